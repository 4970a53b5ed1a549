/**
 * Starts the real Syncline sync API as a child process (`apps/sync-api/src/main.ts` through tsx)
 * against a fresh source + storage database on the shared test cluster — the client talks to it
 * over HTTP only, like any app would (no import of the app). Disposing stops it and drops both
 * databases.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface SyncServerProcess extends AsyncDisposable {
  url: string;
  db: TestDatabase;
  /** Runs SQL on the source database. */
  sql<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** An HS256 dev token for `userId`. */
  token(userId: string, ttlSeconds?: number): string;
  /** The child process's recent output (for failure messages). */
  output(): string;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

export async function startSyncServer(adminUrl: string, schemaSql: string, rulesYaml: string): Promise<SyncServerProcess> {
  const db = await createTestDatabase(adminUrl, 'client');
  const storageUrl = await db.createSibling('storage');
  const pool = db.pool();
  await pool.query(schemaSql);
  const dir = mkdtempSync(join(tmpdir(), 'syncline-client-it-'));
  const rulesPath = join(dir, 'sync-rules.yaml');
  writeFileSync(rulesPath, rulesYaml);
  const secret = randomBytes(32);
  const port = await freePort();
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'apps/sync-api/src/main.ts'], {
    cwd: REPO,
    env: {
      PATH: process.env['PATH'] ?? '',
      SOURCE_DATABASE_URL: db.url,
      STORAGE_DATABASE_URL: storageUrl,
      ADMIN_TOKEN: randomBytes(24).toString('hex'),
      JWT_SECRET: secret.toString('base64url'),
      JWT_SECRET_KID: 'syncline-dev',
      SYNC_API_PORT: String(port),
      SYNC_API_HOST: '127.0.0.1',
      SYNC_RULES_PATH: rulesPath,
      PUBLICATION_NAME: `pub_${db.name}`,
      DEV_MODE: 'true',
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
    } as unknown as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`sync-api exited with ${child.exitCode}:\n${output}`);
      const ready = await fetch(`${url}/probes/readiness`)
        .then(async (r) => (r.ok ? ((await r.json()) as { active_version: number | null }) : null))
        .catch(() => null);
      if (ready?.active_version) break;
      if (Date.now() > deadline) throw new Error(`sync-api did not become ready:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    await stop();
    await db[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  return {
    url,
    db,
    async sql<R>(text: string, params: unknown[] = []) {
      return (await pool.query(text, params)).rows as R[];
    },
    token(userId, ttlSeconds = 3600) {
      const now = Math.floor(Date.now() / 1000);
      const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'syncline-dev' }));
      const payload = b64url(JSON.stringify({ sub: userId, iat: now, exp: now + ttlSeconds }));
      const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
      return `${header}.${payload}.${signature}`;
    },
    output: () => output,
    async [Symbol.asyncDispose]() {
      await stop();
      await db[Symbol.asyncDispose]();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
