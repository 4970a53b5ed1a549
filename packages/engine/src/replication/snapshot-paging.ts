/**
 * How a table snapshot walks a table in chunks, and the resume position stored after each chunk
 * (`source_tables.snapshot_last_key`). Pure: no I/O.
 *
 * - Key order (`(k…) > (last…) ORDER BY k… LIMIT n`) when the key is a primary key or replica
 *   identity index: total, NOT NULL and orderable, so every row is read exactly once.
 * - Physical block ranges (`ctid >= '(b0,0)' AND ctid < '(b1,0)'`) otherwise, i.e. REPLICA
 *   IDENTITY FULL without such an index, where the key is the whole row: rows may hold NULLs
 *   (a row comparison with NULL is never true, so keyset paging skipped them), types without an
 *   ordering operator (json, xml, point: ORDER BY failed) and exact duplicates. A block range is
 *   total whatever the columns; rows that move between chunks (UPDATE) are replayed from the WAL,
 *   and a table rewrite (VACUUM FULL, CLUSTER) is detected by its relfilenodes and restarts the walk.
 */

export const CTID_MAX_BLOCKS_PER_CHUNK = 1 << 20;

/** Resume position of a block-range walk: the next block to read in the given relfilenodes. */
export interface BlockPosition {
  block: number;
  /** Relfilenodes of the table (and its partitions) the blocks refer to. */
  relfiles: string;
}

/** Serialises a block position for `snapshot_last_key`. */
export function encodeBlockPosition(p: BlockPosition): string {
  return JSON.stringify({ ctid: p });
}

/**
 * Where a block-range walk resumes: the stored block when it refers to the same relfilenodes,
 * else the beginning (a key-order position of an older version, nothing stored, or the table was
 * rewritten since: re-reading is harmless, rows are merged with what is stored).
 */
export function resumeBlock(stored: string | null, relfiles: string): number {
  if (!stored) return 0;
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return 0;
  }
  const p = (parsed as { ctid?: Partial<BlockPosition> } | null)?.ctid;
  if (!p || p.relfiles !== relfiles || typeof p.block !== 'number' || !Number.isInteger(p.block) || p.block < 0) return 0;
  return p.block;
}

/** Blocks for the first chunk, from the table's statistics (rows per block). */
export function initialBlocks(targetRows: number, reltuples: number, relpages: number): number {
  const perBlock = reltuples > 0 && relpages > 0 ? reltuples / relpages : 100;
  return clampBlocks(Math.floor(targetRows / Math.max(perBlock, 1)));
}

/** Blocks for the next chunk, scaled by how many rows the last `blocks` held. */
export function nextBlocks(blocks: number, rowsRead: number, targetRows: number): number {
  if (rowsRead <= 0) return clampBlocks(blocks * 2);
  return clampBlocks(Math.floor((blocks * targetRows) / rowsRead));
}

function clampBlocks(n: number): number {
  return Math.min(CTID_MAX_BLOCKS_PER_CHUNK, Math.max(1, n));
}
