/**
 * Applies the committed drizzle migrations (/drizzle) to the storage database. Serialised with an
 * advisory lock so several processes starting at once do not race.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/**
 * Where the committed migrations are: `drizzle/` next to the running module when it is the
 * compiled bundle (`apps/sync-api/dist/main.js` ships `dist/drizzle`), else the repository's
 * `/drizzle` seen from this source file.
 */
function resolveMigrationsFolder(): string {
  const candidates = [new URL('./drizzle', import.meta.url), new URL('../../../../drizzle', import.meta.url)].map((u) => fileURLToPath(u));
  return candidates.find((dir) => existsSync(join(dir, 'meta', '_journal.json'))) ?? candidates[candidates.length - 1]!;
}

export const MIGRATIONS_FOLDER = resolveMigrationsFolder();
const MIGRATION_LOCK = 0x53594e43; // 'SYNC'

export async function migrateStorage(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER, migrationsSchema: 'syncline_migrations' });
    await client.query('INSERT INTO syncline.op_id_counter (id, last) VALUES (1, 0) ON CONFLICT DO NOTHING');
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    await client.end();
  }
}

/** Creates the database named in the URL when it does not exist (needs CREATEDB on the server). */
export async function ensureDatabase(connectionString: string): Promise<boolean> {
  const url = new URL(connectionString);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    return true;
  } finally {
    await client.end();
  }
}
