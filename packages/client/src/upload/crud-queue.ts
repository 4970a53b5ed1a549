/**
 * Reading and completing the upload queue (`sl_crud`), and the write-checkpoint target that gates
 * applying downloaded data (reference §4.2–4.6):
 *
 * - every local write closes the gate (target = MAX, set by the view triggers);
 * - once the queue is drained, a write checkpoint is requested and becomes the target, unless
 *   new writes arrived meanwhile (detected through the AUTOINCREMENT sequence);
 * - a checkpoint whose `write_checkpoint` ≥ target (and an empty queue) opens the gate.
 */
import type { DatabaseInternals } from '../db/syncline-database.ts';
import { KV, MAX_OP_ID } from '../schema/internal-schema.ts';
import { CrudEntry } from './crud-entry.ts';

export interface CrudBatch {
  crud: CrudEntry[];
  /** True when more entries are queued after this batch. */
  haveMore: boolean;
  /**
   * Removes these entries (and all earlier ones) from the queue. Pass the id of a custom write
   * checkpoint when the backend created one; it is used only if the queue is then empty.
   */
  complete(writeCheckpoint?: string | bigint): Promise<void>;
}

export interface CrudTransaction extends CrudBatch {
  transactionId: number | undefined;
}

export interface UploadQueueStats {
  count: number;
  /** Sum of the JSON sizes of the queued entries, in bytes (UTF-16 length). */
  size: number;
}

interface CrudRow {
  id: number;
  tx_id: number | null;
  data: string;
}

export class CrudQueue {
  constructor(private readonly db: DatabaseInternals) {}

  async getCrudBatch(limit: number): Promise<CrudBatch | null> {
    const rows = await this.db.read(async (a) => (await a.execute(`SELECT id, tx_id, data FROM sl_crud ORDER BY id LIMIT ?`, [limit + 1])).rows as unknown as CrudRow[]);
    if (rows.length === 0) return null;
    const haveMore = rows.length > limit;
    const crud = rows.slice(0, limit).map((r) => CrudEntry.fromRow(r));
    return this.batch(crud, haveMore);
  }

  async getNextCrudTransaction(): Promise<CrudTransaction | null> {
    const rows = await this.db.read(async (a) => {
      const first = (await a.execute(`SELECT id, tx_id, data FROM sl_crud ORDER BY id LIMIT 1`)).rows[0] as unknown as CrudRow | undefined;
      if (!first) return [];
      if (first.tx_id === null) return [first];
      // Consecutive entries of the same transaction (ids are contiguous within one transaction).
      const { rows } = await a.execute(`SELECT id, tx_id, data FROM sl_crud WHERE id >= ? AND tx_id = ? ORDER BY id`, [first.id, first.tx_id]);
      const out: CrudRow[] = [];
      let expected = first.id;
      for (const r of rows as unknown as CrudRow[]) {
        if (r.id !== expected) break;
        out.push(r);
        expected++;
      }
      return out;
    });
    if (rows.length === 0) return null;
    const crud = rows.map((r) => CrudEntry.fromRow(r));
    const haveMore = await this.db.read(async (a) => (await a.execute(`SELECT 1 FROM sl_crud WHERE id > ? LIMIT 1`, [crud[crud.length - 1]?.clientId ?? 0])).rows.length > 0);
    return { ...this.batch(crud, haveMore), transactionId: crud[0]?.transactionId };
  }

  private batch(crud: CrudEntry[], haveMore: boolean): CrudBatch {
    const last = crud[crud.length - 1]?.clientId ?? 0;
    return { crud, haveMore, complete: (writeCheckpoint) => this.complete(last, writeCheckpoint) };
  }

  /** Deletes entries up to `lastClientId`; a custom write checkpoint becomes the target if the queue is empty. */
  async complete(lastClientId: number, writeCheckpoint?: string | bigint): Promise<void> {
    await this.db.write(async (a, changed) => {
      await a.execute(`DELETE FROM sl_crud WHERE id <= ?`, [lastClientId]);
      changed.add('sl_crud');
      if (writeCheckpoint === undefined) return;
      const remaining = await a.execute(`SELECT 1 FROM sl_crud LIMIT 1`);
      if (remaining.rows.length === 0) {
        await a.execute(`INSERT OR REPLACE INTO sl_kv (key, value) VALUES (?, ?)`, [KV.target, BigInt(writeCheckpoint)]);
      }
    });
  }

  async stats(): Promise<UploadQueueStats> {
    return this.db.read(async (a) => {
      const row = (await a.execute(`SELECT count(*) AS count, coalesce(sum(length(data)), 0) AS size FROM sl_crud`)).rows[0];
      return { count: Number(row?.['count'] ?? 0), size: Number(row?.['size'] ?? 0) };
    });
  }

  async first(): Promise<number | null> {
    return this.db.read(async (a) => {
      const row = (await a.execute(`SELECT id FROM sl_crud ORDER BY id LIMIT 1`)).rows[0];
      return row ? Number(row['id']) : null;
    });
  }

  /**
   * After the queue drained: if local writes are unacknowledged (target = MAX), asks the service
   * for a write checkpoint and makes it the target. Returns true when the target was set; false
   * when nothing was needed or writes raced the request (the next upload round retries).
   */
  async updateLocalTarget(fetchWriteCheckpoint: () => Promise<bigint>): Promise<boolean> {
    const before = await this.db.read(async (a) => {
      const target = (await a.execute(`SELECT CAST(value AS TEXT) AS v FROM sl_kv WHERE key = ?`, [KV.target])).rows[0];
      const seq = (await a.execute(`SELECT seq FROM sqlite_sequence WHERE name = 'sl_crud'`)).rows[0];
      const pending = (await a.execute(`SELECT 1 FROM sl_crud LIMIT 1`)).rows.length > 0;
      return { target: target ? BigInt(String(target['v'])) : undefined, seq: Number(seq?.['seq'] ?? 0), pending };
    });
    if (before.pending || before.target !== MAX_OP_ID) return false;
    const writeCheckpoint = await fetchWriteCheckpoint();
    return this.db.write(async (a) => {
      const seq = Number((await a.execute(`SELECT seq FROM sqlite_sequence WHERE name = 'sl_crud'`)).rows[0]?.['seq'] ?? 0);
      const pending = (await a.execute(`SELECT 1 FROM sl_crud LIMIT 1`)).rows.length > 0;
      if (pending || seq !== before.seq) return false;
      await a.execute(`INSERT OR REPLACE INTO sl_kv (key, value) VALUES (?, ?)`, [KV.target, writeCheckpoint]);
      return true;
    });
  }
}
