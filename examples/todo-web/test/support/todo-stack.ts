/**
 * Everything the example needs, started for real: a fresh source + storage database with the
 * demo schema, the sync API as a child process (demo Sync Streams, a known HS256 secret), the app
 * built by Vite into a temp directory, and the example backend serving it. Disposing stops all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { build } from 'vite';
import { createTestDatabase, freePort, type TestDatabase } from '@syncline/test-utils';
import { ensureUploadsTable } from '../../server/apply-upload.ts';
import { createAppServer } from '../../server/app-server.ts';
import { keysFromSecret } from '../../server/auth.ts';

const EXAMPLE = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const REPO = resolve(EXAMPLE, '../..');

export interface TodoStack extends AsyncDisposable {
  /** The app's URL (served by the example backend). */
  appUrl: string;
  syncUrl: string;
  pool: pg.Pool;
  /** Where the built app is. */
  distDir: string;
  /** Recent output of the sync API (for failure messages). */
  syncOutput(): string;
}

/**
 * Starts the stack. `production`: the app is built by `vite build` in a child process with
 * NODE_ENV=production (React's production build, as `npm run build`) and served by the example's
 * own server process (`server/main.ts`, as `npm start`), configured only through its environment.
 */
export async function startTodoStack(adminUrl: string, opts: { production?: boolean } = {}): Promise<TodoStack> {
  const cleanups: Array<() => Promise<void> | void> = [];
  const dispose = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const db: TestDatabase = await createTestDatabase(adminUrl, 'todoweb');
    cleanups.push(async () => {
      await db[Symbol.asyncDispose]();
    });
    const storageUrl = await db.createSibling('storage');
    const pool = db.pool();
    await pool.query(readFileSync(join(REPO, 'demo/schema.sql'), 'utf8'));
    await ensureUploadsTable(pool);

    const secret = randomBytes(32).toString('base64url');
    const port = await freePort();
    let output = '';
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'apps/sync-api/src/main.ts'], {
      cwd: REPO,
      env: {
        PATH: process.env['PATH'] ?? '',
        SOURCE_DATABASE_URL: db.url,
        STORAGE_DATABASE_URL: storageUrl,
        ADMIN_TOKEN: randomBytes(24).toString('hex'),
        JWT_SECRET: secret,
        SYNC_API_PORT: String(port),
        SYNC_API_HOST: '127.0.0.1',
        SYNC_RULES_PATH: join(REPO, 'demo/sync-rules.streams.yaml'),
        PUBLICATION_NAME: `pub_${db.name}`,
        LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
        EXIT_ON_STDIN_CLOSE: 'true', // never outlives this test process (see sync-api-process.ts)
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    cleanups.push(async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    });
    const syncUrl = `http://127.0.0.1:${port}`;

    const distDir = mkdtempSync(join(tmpdir(), 'todo-web-dist-'));
    cleanups.push(() => rmSync(distDir, { recursive: true, force: true }));
    // Built while the sync API starts (both take seconds). Under vitest NODE_ENV is `test`, so Vite
    // bundles React's development build: StrictMode mounts effects twice, as in `npm run dev`.
    // Kept on purpose — the double mount is what exposed the app's racing database opens.
    const built = opts.production
      ? runToEnd(join(REPO, 'node_modules/.bin/vite'), ['build', '--outDir', distDir, '--emptyOutDir', '--logLevel', 'warn'], { ...process.env, NODE_ENV: 'production' })
      : build({ root: EXAMPLE, configFile: join(EXAMPLE, 'vite.config.ts'), logLevel: 'warn', build: { outDir: distDir, emptyOutDir: true } });
    built.catch(() => {}); // awaited below; a failure while the sync API starts must not go unhandled

    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`sync-api exited with ${child.exitCode}:\n${output}`);
      const ready = await fetch(`${syncUrl}/probes/readiness`)
        .then(async (r) => (r.ok ? ((await r.json()) as { active_version: number | null }) : null))
        .catch(() => null);
      if (ready?.active_version) break;
      if (Date.now() > deadline) throw new Error(`sync-api did not become ready:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await built;

    if (opts.production) {
      const appPort = await freePort();
      let appOutput = '';
      const app = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
        cwd: EXAMPLE,
        env: { PATH: process.env['PATH'] ?? '', NODE_ENV: 'production', SOURCE_DATABASE_URL: db.url, JWT_SECRET: secret, SYNC_API_URL: syncUrl, TODO_PORT: String(appPort), TODO_DIST_DIR: distDir, DEV_MODE: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const appExited = new Promise<void>((r) => app.once('exit', () => r()));
      const collectApp = (chunk: Buffer) => (appOutput = (appOutput + chunk.toString('utf8')).slice(-5_000));
      app.stdout.on('data', collectApp);
      app.stderr.on('data', collectApp);
      cleanups.push(async () => {
        if (app.exitCode !== null || app.signalCode !== null) return;
        app.kill('SIGKILL');
        await appExited;
      });
      const appUrl = `http://127.0.0.1:${appPort}`;
      const appDeadline = Date.now() + 30_000;
      while (!(await fetch(`${appUrl}/api/config`).then((r) => r.ok).catch(() => false))) {
        if (app.exitCode !== null) throw new Error(`todo-web server exited with ${app.exitCode}:\n${appOutput}`);
        if (Date.now() > appDeadline) throw new Error(`todo-web server did not start:\n${appOutput}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return { appUrl, syncUrl, pool, distDir, syncOutput: () => `${output}\ntodo-web server:\n${appOutput}`, [Symbol.asyncDispose]: dispose };
    }
    const server: Server = createAppServer({ pool, keys: keysFromSecret(secret, undefined), syncUrl, distDir, devMode: true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }));
    const appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { appUrl, syncUrl, pool, distDir, syncOutput: () => output, [Symbol.asyncDispose]: dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/** Runs a command to its end; rejects with its output when it fails. */
function runToEnd(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: EXAMPLE, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const collect = (chunk: Buffer) => (out = (out + chunk.toString('utf8')).slice(-10_000));
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out}`))));
  });
}
