/**
 * A fresh database per test file on the shared test cluster. Disposing it drops the database's
 * replication slots (terminating their walsenders first) and then the database itself.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';

export interface TestDatabase extends AsyncDisposable {
  readonly name: string;
  /** URL of the new database. */
  readonly url: string;
  /** URL of the cluster's maintenance database (`postgres`). */
  readonly adminUrl: string;
  /** URL of another database on the same cluster (created with `createSibling`). */
  urlFor(database: string): string;
  /** Creates another fresh database on the same cluster, dropped with this one. */
  createSibling(suffix: string): Promise<string>;
  /** Opens a pool on the database; closed on dispose. */
  pool(): pg.Pool;
}

export async function createTestDatabase(adminUrl: string, prefix = 't'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`.toLowerCase();
  const databases = [name];
  const pools: pg.Pool[] = [];
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  const urlFor = (db: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${db}`;
    return u.toString();
  };
  return {
    name,
    url: urlFor(name),
    adminUrl,
    urlFor,
    async createSibling(suffix) {
      const db = `${name}_${suffix}`;
      await adminQuery(adminUrl, `CREATE DATABASE "${db}"`);
      databases.push(db);
      return urlFor(db);
    },
    pool() {
      const p = new pg.Pool({ connectionString: urlFor(name), max: 10 });
      p.on('error', () => {});
      pools.push(p);
      return p;
    },
    async [Symbol.asyncDispose]() {
      await Promise.allSettled(pools.map((p) => p.end()));
      for (const db of databases) await dropDatabaseAndSlots(adminUrl, db);
    },
  };
}

export async function dropDatabaseAndSlots(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      await client.query(
        `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`,
        [database],
      );
      const { rows } = await client.query<{ slot_name: string }>(
        `SELECT slot_name FROM pg_replication_slots WHERE database = $1`,
        [database],
      );
      let pending = false;
      for (const { slot_name } of rows) {
        try {
          await client.query(`SELECT pg_drop_replication_slot($1)`, [slot_name]);
        } catch {
          pending = true; // still active for a moment after termination
        }
      }
      if (!pending) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
