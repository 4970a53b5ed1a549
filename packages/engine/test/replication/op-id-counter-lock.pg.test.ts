/**
 * The single-row op-id counter serialises every writer (replicators of all versions, compaction's
 * defragment); a flush must take its lock last and hold it only while it writes ops, never while
 * it re-reads rows from the source (issue 11 §2).
 */
import { describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import pino from 'pino';
import { compileSyncRules, deployVersion, getSubkeySalt, migrateStorage } from '@syncline/engine';
import { createTestDatabase } from '@syncline/test-utils';
import { createTableEvaluator } from '../../src/replication/table-evaluator.ts';
import { PgReplicationWriter, type SourceChange } from '../../src/storage/pg-replication-writer.ts';

const RULES = `
bucket_definitions:
  everything:
    data:
      - SELECT id, body FROM items
`;

describe('op-id counter lock in a flush', () => {
  it('is not held while rows are re-read from the source', async () => {
    await using db = await createTestDatabase(inject('pgAdminUrl'), 'opid');
    await migrateStorage(db.url);
    const pool = db.pool();
    const version = (await deployVersion(pool, RULES, null)).id;
    const { rules } = compileSyncRules(RULES, { versionId: version });
    const evaluator = createTableEvaluator(rules!, { schema: 'public', name: 'items' }, [
      { name: 'id', typeOid: 25 },
      { name: 'body', typeOid: 25 },
    ], false);
    const writer = new PgReplicationWriter(pool, version, pino({ level: 'silent' }), await getSubkeySalt(pool, version));
    const change = (id: string, body: string | undefined): SourceChange => ({ sourceTable: 1, evaluator, key: JSON.stringify([id]), row: { id, body } });

    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    let lockedDuringReread: boolean | null = null;
    try {
      // 'a' is new; 'b' is an update whose TOAST column was not sent and has no stored image.
      const stats = await writer.flush([change('a', 'one'), change('b', undefined)], undefined, undefined, {
        reread: async (keys) => {
          expect(keys.map((k) => k.key)).toEqual(['["b"]']);
          try {
            await other.query('BEGIN');
            await other.query('SELECT last FROM syncline.op_id_counter WHERE id = 1 FOR UPDATE NOWAIT');
            lockedDuringReread = false;
          } catch (e) {
            if ((e as { code?: string }).code !== '55P03') throw e;
            lockedDuringReread = true;
          } finally {
            await other.query('ROLLBACK');
          }
          return [change('b', 'two')];
        },
      });
      expect(lockedDuringReread).toBe(false);
      expect(stats.ops).toBe(2);
      expect(stats.incomplete).toEqual([]);
    } finally {
      await other.end();
    }
    const { rows } = await pool.query<{ op_id: string; row_id: string }>(
      'SELECT op_id::text, row_id FROM syncline.bucket_data WHERE version_id = $1 ORDER BY op_id',
      [version],
    );
    expect(rows.map((r) => r.row_id)).toEqual(['a', 'b']);
    const counter = await pool.query<{ last: string }>('SELECT last::text FROM syncline.op_id_counter');
    expect(counter.rows[0]!.last).toBe(rows[1]!.op_id);
    const state = await pool.query<{ op_count: string; last_op: string }>(
      'SELECT op_count::text, last_op::text FROM syncline.bucket_state WHERE version_id = $1',
      [version],
    );
    expect(state.rows).toEqual([{ op_count: '2', last_op: rows[1]!.op_id }]);
    const current = await pool.query<{ source_key: string }>('SELECT source_key FROM syncline.current_data WHERE version_id = $1 ORDER BY 1', [version]);
    expect(current.rows.map((r) => r.source_key)).toEqual(['["a"]', '["b"]']);
  });
});
