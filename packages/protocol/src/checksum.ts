/**
 * Op checksums, exactly as the PowerSync protocol computes them (reference §3), so values can be
 * compared byte for byte with the reference service.
 *
 * - PUT: first 4 bytes (little-endian uint32) of SHA-256(`put.<object_type>.<object_id>.<data>`).
 * - REMOVE: the same over `delete.<subkey>`.
 * - A bucket checksum is the wrapping sum of its op checksums mod 2^32; on the wire checkpoints
 *   carry it as a signed int32, single ops as unsigned.
 *
 * @example
 * opChecksumPut('test', 't1', '{"id":"t1","description":"Test 1"}'); // 920318466
 * toSignedInt32(addChecksums(920318466, 3280762209)); // -93886621
 */
import { sha256 } from './sha256.ts';

interface NodeCrypto {
  hash?: (alg: string, data: string, enc: 'buffer') => Uint8Array;
  createHash: (alg: string) => { update(text: string, enc: 'utf8'): { digest(): Uint8Array } };
}

// No static `node:crypto` import, so browser bundles of the client work: on Node (≥ 20.16) the
// builtin is loaded lazily; elsewhere a pure-JS SHA-256 is used. `crypto.hash` (one-shot, no Hash
// object per call) is ~2× faster for these small inputs — every replicated op is hashed.
const nodeCrypto: NodeCrypto | null =
  typeof process !== 'undefined' && typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule === 'function'
    ? ((process as unknown as { getBuiltinModule(id: string): NodeCrypto }).getBuiltinModule('node:crypto') ?? null)
    : null;

function digest(text: string): Uint8Array {
  if (nodeCrypto?.hash) return nodeCrypto.hash('sha256', text, 'buffer');
  if (nodeCrypto) return nodeCrypto.createHash('sha256').update(text, 'utf8').digest();
  return sha256(text);
}

/**
 * The one place that hashes. The protocol package is shared with clients: a browser build can
 * swap this for a synchronous pure-JS SHA-256 (WebCrypto is async) without touching callers.
 * Returns the first four digest bytes as an unsigned little-endian 32-bit integer.
 */
function sha256Uint32LE(text: string): number {
  const d = digest(text);
  return (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0;
}

/** Checksum of a PUT op: `object_type` = output table, `object_id` = row id, `data` = row JSON. */
export function opChecksumPut(objectType: string, objectId: string, dataJson: string): number {
  return sha256Uint32LE(`put.${objectType}.${objectId}.${dataJson}`);
}

/** Checksum of a REMOVE op: one per source row, independent of bucket, table and id. */
export function opChecksumRemove(subkey: string): number {
  return sha256Uint32LE(`delete.${subkey}`);
}

/** Wraps any integer (signed or unsigned, possibly outside 32 bits) to an unsigned 32-bit value. */
export function toUint32(n: number | bigint): number {
  if (typeof n === 'bigint') return Number(BigInt.asUintN(32, n));
  // ToUint32 truncates and reduces modulo 2^32, for any finite double.
  return n >>> 0;
}

/** Wraps any integer to the signed int32 form used for bucket checksums in checkpoint lines. */
export function toSignedInt32(n: number | bigint): number {
  return toUint32(n) | 0;
}

/**
 * Adds two checksums with 32-bit wrap-around. Accepts signed or unsigned inputs and returns the
 * unsigned result (0..2^32−1); use {@link toSignedInt32} for the checkpoint representation.
 */
export function addChecksums(a: number, b: number): number {
  // Both operands fit in 32 bits after `>>> 0`, so their sum is exact in a double.
  return ((a >>> 0) + (b >>> 0)) >>> 0;
}

/** Wrapping sum of many checksums (unsigned result). */
export function sumChecksums(checksums: Iterable<number>): number {
  let total = 0;
  for (const c of checksums) total = ((total >>> 0) + (c >>> 0)) >>> 0;
  return total;
}
