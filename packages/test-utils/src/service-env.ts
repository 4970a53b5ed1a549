/**
 * The environment every sync-api process of one multi-process test shares: a temporary directory
 * holding the sync rules file, fresh secrets, and the source/storage database URLs. Pass `env` to
 * {@link startSyncApiProcess}; remove `dir` when the test ends.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestDatabase } from './test-database.ts';

export interface ServiceEnv {
  readonly env: Record<string, string>;
  readonly jwtSecret: string;
  readonly dir: string;
}

export async function createServiceEnv(opts: { db: TestDatabase; storageUrl: string; rules: string; extra?: Record<string, string> }): Promise<ServiceEnv> {
  const dir = await mkdtemp(join(tmpdir(), `syncline-${opts.db.name}-`));
  await writeFile(join(dir, 'rules.yaml'), opts.rules);
  const jwtSecret = randomBytes(32).toString('base64url');
  const env = {
    SOURCE_DATABASE_URL: opts.db.url,
    STORAGE_DATABASE_URL: opts.storageUrl,
    ADMIN_TOKEN: randomBytes(24).toString('hex'),
    JWT_SECRET: jwtSecret,
    PUBLICATION_NAME: `pub_${opts.db.name}`,
    SYNC_RULES_PATH: join(dir, 'rules.yaml'),
    ...opts.extra,
  };
  return { env, jwtSecret, dir };
}
