import { describe, expect, it, inject } from 'vitest';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { createTestDatabase } from '@syncline/test-utils';

describe('integration harness', () => {
  it('streams an inserted row through a pgoutput slot and drops the slot on dispose', async () => {
    let slotDatabase: string;
    {
      await using db = await createTestDatabase(inject('pgAdminUrl'), 'harness');
      slotDatabase = db.name;
      const pool = db.pool();
      await pool.query('CREATE TABLE items (id text PRIMARY KEY, title text)');
      await pool.query('CREATE PUBLICATION harness_pub FOR ALL TABLES');
      await pool.query(`SELECT pg_create_logical_replication_slot('${db.name}_slot', 'pgoutput')`);
      await pool.query(`INSERT INTO items VALUES ('a', 'hello')`);

      const service = new LogicalReplicationService(
        { connectionString: db.url },
        { acknowledge: { auto: false, timeoutSeconds: 0 } },
      );
      const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: ['harness_pub'] });
      const inserted = new Promise<Pgoutput.MessageInsert>((resolve) => {
        service.on('data', (_lsn: string, msg: Pgoutput.Message) => {
          if (msg.tag === 'insert') resolve(msg);
        });
      });
      service.on('error', () => {});
      void service.subscribe(plugin, `${db.name}_slot`).catch(() => {});
      const msg = await inserted;
      await service.stop();
      expect(msg.relation.name).toBe('items');
      expect(msg.new).toEqual({ id: 'a', title: 'hello' });
    }
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
    await admin.connect();
    const slots = await admin.query('SELECT 1 FROM pg_replication_slots WHERE database = $1', [slotDatabase]);
    const dbs = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [slotDatabase]);
    await admin.end();
    expect(slots.rowCount).toBe(0);
    expect(dbs.rowCount).toBe(0);
  });
});
