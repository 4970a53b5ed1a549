/**
 * The `subkey` sent with PUT/REMOVE ops: an opaque id of the source row. Clients only use it as part
 * of the row identity (object_type, object_id, subkey), so any stable string per source row works
 * (reference §2); ours must not reveal the row's key (an email, or a whole REPLICA IDENTITY FULL
 * row), so it is a keyed hash: the first 128 bits of SHA-256(salt ‖ 0 ‖ table id ‖ 0 ‖ key), shaped
 * as a UUID. The salt is a per-version secret in storage (`sync_rules_versions.subkey_salt`), so:
 * - the same row has the same subkey on every read, in every process and after restarts;
 * - two rows never share one (SHA-256 stays collision resistant even for keys an attacker inserts;
 *   distinct source table ids keep the old and new copy of a re-snapshotted table apart, which
 *   clients need: a REMOVE of the old copy must not cancel the PUT of the new one);
 * - nobody without the salt can confirm a guessed key (an unsalted hash of an email or an integer
 *   id could be brute-forced).
 * REMOVE checksums hash this same string (as PowerSync does), so they reveal nothing either.
 *
 * Versions deployed before opaque subkeys have no salt (null) and keep their `<table id>/<key>`
 * subkeys: clients identify rows by (type, id, subkey), so changing the subkeys of rows they
 * already hold would leave the old entries behind (a later REMOVE would not supersede them).
 * Deploying the rules again (a new version) moves such a deployment to opaque subkeys.
 *
 * The replicator hashes it once per row change and stores it with the op (`bucket_data.subkey`);
 * readers hash only ops stored without one (older ops, versions without a salt). One one-shot
 * `crypto.hash` call, ~0.7 µs per op here; hashing on every read cost a 1M-op download ~2 s of sync
 * API CPU (BENCHMARKS.md). A plain-JS SHA-256 with a cached salt midstate was 2× slower.
 *
 * @example
 * opaqueSubkey(salt, 3, '["alice@example.com"]'); // '9b1d0c2e-…'
 */
import { hash } from 'node:crypto';

/**
 * The subkey clients receive for a stored op: the one stored with it, else hashed from its source
 * row (ops stored before `bucket_data.subkey`, versions without a salt); null without a source row
 * (MOVE, CLEAR).
 */
export function storedOpSubkey(salt: string | null, stored: string | null, sourceTable: number | null, sourceKey: string | null): string | null {
  if (stored !== null) return stored;
  return sourceTable === null || sourceKey === null ? null : opaqueSubkey(salt, sourceTable, sourceKey);
}

export function opaqueSubkey(salt: string | null, sourceTable: number, sourceKey: string): string {
  if (salt === null) return `${sourceTable}/${sourceKey}`;
  const h = hash('sha256', `${salt}\u0000${sourceTable}\u0000${sourceKey}`, 'hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
