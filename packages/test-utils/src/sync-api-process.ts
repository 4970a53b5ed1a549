/**
 * Runs the sync-api as a real child process — the one spawner of every multi-process test (drain,
 * failover, cluster, the client and React suites through `startSyncServer`): the compiled bundle
 * `node apps/sync-api/dist/main.js` (plain node, a clean environment, no loader; built on demand
 * when stale, see `sync-api-build.ts`) or the TypeScript sources through tsx (`compiled: false`,
 * or SYNCLINE_TEST_SPAWN=tsx for every spawn). Output lines (pino JSON) are kept for assertions;
 * peak RSS is sampled from /proc.
 *
 * @example
 * await using api = await startSyncApiProcess({ runner: 'api', env: { SOURCE_DATABASE_URL, ADMIN_TOKEN, JWT_SECRET } });
 * await fetch(`${api.url}/probes/readiness`);
 * const exit = await api.stop('SIGTERM'); // { code: 0, signal: null, afterMs }
 *
 * // A unified server on fresh databases with deployed rules, ready to sync:
 * await using server = await startSyncServer(inject('pgAdminUrl'), 'CREATE TABLE todos (…)', rulesYaml);
 * const token = server.token('user-1');
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.ts';
import { REPO_ROOT, SYNC_API_BUNDLE, ensureSyncApiBuild } from './sync-api-build.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

export { REPO_ROOT, SYNC_API_BUNDLE, buildSyncApi, ensureSyncApiBuild } from './sync-api-build.ts';

export interface SyncApiProcessOptions {
  /** Config env (SOURCE_DATABASE_URL, ADMIN_TOKEN, JWT_SECRET, …); SYNC_API_PORT is chosen unless given. */
  env: Record<string, string>;
  runner?: 'unified' | 'api' | 'replicator';
  /** true: `node dist/main.js` (built first when stale); false: the sources through tsx. Default true unless SYNCLINE_TEST_SPAWN=tsx. */
  compiled?: boolean;
  /** Base log level when `env` sets none (default `info`). */
  logLevel?: string;
  /** PROCESS_NAME (default `<runner>-<port>`). */
  name?: string;
  /** Wait until `/probes/liveness` (default) or `/probes/readiness` answers 200, or not at all. */
  waitFor?: 'live' | 'ready' | 'none';
  startTimeoutMs?: number;
  /** Extra node flags before the script (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow). */
  nodeArgs?: string[];
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** When the process exited (Date.now()). */
  at: number;
}

export interface SyncApiProcess extends AsyncDisposable {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly runner: 'unified' | 'api' | 'replicator';
  readonly child: ChildProcess;
  /** Output lines so far (stdout and stderr; the last 20,000). */
  readonly output: string[];
  /** stdout lines parsed as pino JSON (others skipped). */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the first log record matching, or rejects after timeoutMs. */
  waitForLog(match: (r: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  readonly exited: Promise<ProcessExit>;
  /** The last `lines` output lines as one string (for failure messages). */
  tail(lines?: number): string;
  alive(): boolean;
  /** Sends `sig` if the process still runs (no wait). */
  signal(sig: NodeJS.Signals): void;
  /** Samples the peak resident memory (VmHWM) from /proc; call periodically and before a signal. */
  sample(): Promise<void>;
  /** Peak resident memory seen by `sample()` (bytes). */
  peakRss(): number;
  /** Sends `signal` and waits for the exit (SIGKILL after timeoutMs). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ProcessExit & { afterMs: number }>;
}

export async function startSyncApiProcess(opts: SyncApiProcessOptions): Promise<SyncApiProcess> {
  const port = opts.env.SYNC_API_PORT ? Number(opts.env.SYNC_API_PORT) : await freePort();
  const runner = opts.runner ?? 'unified';
  const name = opts.name ?? `${runner}-${port}`;
  const compiled = opts.compiled ?? process.env.SYNCLINE_TEST_SPAWN !== 'tsx';
  if (compiled) await ensureSyncApiBuild();
  // A clean environment: nothing of the test runner's (NODE_OPTIONS loaders, vitest vars) leaks in.
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LOG_LEVEL: opts.logLevel ?? 'info',
    ...opts.env,
    SYNC_API_PORT: String(port),
    SYNC_API_HOST: '127.0.0.1',
    SYNC_RUNNER: runner,
    PROCESS_NAME: name,
    // Our end of its stdin pipe closes when this process dies (even by SIGKILL or a test timeout):
    // the service then drains and exits instead of outliving the test as an orphan.
    EXIT_ON_STDIN_CLOSE: 'true',
  };
  const args = [...(opts.nodeArgs ?? []), ...(compiled ? [SYNC_API_BUNDLE] : ['--import', 'tsx', path.join(REPO_ROOT, 'apps/sync-api/src/main.ts')])];
  // Next's types (the dashboard compiles this file too) make NODE_ENV required in ProcessEnv.
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: env as unknown as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  const output: string[] = [];
  const waiters = new Set<() => void>();
  const collect = (stream: NodeJS.ReadableStream) => {
    let buf = '';
    stream.setEncoding?.('utf8');
    stream.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        output.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      if (output.length > 20_000) output.splice(0, output.length - 20_000);
      for (const w of waiters) w();
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  const exited = new Promise<ProcessExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const w of waiters) w();
  });

  const logs = () =>
    output.flatMap((l) => {
      if (!l.startsWith('{')) return [];
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  const url = `http://127.0.0.1:${port}`;
  let peak = 0;
  const alive = () => !done && child.exitCode === null && child.signalCode === null;
  const proc: SyncApiProcess = {
    name,
    url,
    port,
    pid: child.pid!,
    runner,
    child,
    output,
    logs,
    exited,
    tail: (lines = 60) => output.slice(-lines).join('\n'),
    alive,
    signal(sig) {
      if (alive()) child.kill(sig);
    },
    async sample() {
      if (!alive()) return;
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    },
    peakRss: () => peak,
    waitForLog(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = logs().find(match);
          if (hit) finish(() => resolve(hit));
          else if (done) finish(() => reject(new Error(`${name} exited before the expected log line; output:\n${output.slice(-30).join('\n')}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`${name}: expected log line not seen within ${timeoutMs} ms`))), timeoutMs);
        const finish = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      await proc.sample();
      const sent = Date.now();
      if (!done) child.kill(signal);
      const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const exit = await exited;
      clearTimeout(kill);
      return { ...exit, afterMs: exit.at - sent };
    },
    async [Symbol.asyncDispose]() {
      if (!done) await proc.stop('SIGKILL');
    },
  };

  const waitFor = opts.waitFor ?? 'live';
  if (waitFor !== 'none') {
    const probe = waitFor === 'ready' ? '/probes/readiness' : '/probes/liveness';
    const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
    for (;;) {
      if (done) throw new Error(`${name} exited during startup; output:\n${output.slice(-30).join('\n')}`);
      const ok = await fetch(url + probe, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${name} not ${waitFor} within ${opts.startTimeoutMs ?? 60_000} ms; output:\n${output.slice(-30).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return proc;
}

/** A unified sync-api process on fresh source + storage databases with rules deployed from a file. */
export interface SyncServerProcess extends AsyncDisposable {
  url: string;
  db: TestDatabase;
  process: SyncApiProcess;
  /** Runs SQL on the source database. */
  sql<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** An HS256 dev token for `userId`. */
  token(userId: string, ttlSeconds?: number): string;
  /** The child process's recent output (for failure messages). */
  output(): string;
}

/**
 * Starts the real Syncline sync API (unified runner, through {@link startSyncApiProcess}) against a
 * fresh source + storage database on the shared test cluster, with `schemaSql` applied to the
 * source and `rulesYaml` deployed; resolves once it is ready (an active version with a
 * checkpoint). Clients talk to it over HTTP/WebSocket only, like any app. Disposing stops it
 * (SIGTERM, SIGKILL after 15 s) and drops both databases.
 */
export async function startSyncServer(adminUrl: string, schemaSql: string, rulesYaml: string): Promise<SyncServerProcess> {
  const db = await createTestDatabase(adminUrl, 'client');
  const storageUrl = await db.createSibling('storage');
  const pool = db.pool();
  const dir = await mkdtemp(path.join(tmpdir(), 'syncline-client-it-'));
  const cleanup = async () => {
    await db[Symbol.asyncDispose]();
    await rm(dir, { recursive: true, force: true });
  };
  let proc: SyncApiProcess;
  const secret = randomBytes(32);
  try {
    await pool.query(schemaSql);
    const rulesPath = path.join(dir, 'sync-rules.yaml');
    await writeFile(rulesPath, rulesYaml);
    proc = await startSyncApiProcess({
      runner: 'unified',
      name: `sync-server-${db.name}`.slice(0, 100),
      waitFor: 'ready',
      startTimeoutMs: 90_000,
      logLevel: process.env.TEST_LOG_LEVEL ?? 'warn',
      env: {
        SOURCE_DATABASE_URL: db.url,
        STORAGE_DATABASE_URL: storageUrl,
        ADMIN_TOKEN: randomBytes(24).toString('hex'),
        JWT_SECRET: secret.toString('base64url'),
        JWT_SECRET_KID: 'syncline-dev',
        SYNC_RULES_PATH: rulesPath,
        PUBLICATION_NAME: `pub_${db.name}`,
        DEV_MODE: 'true',
      },
    });
  } catch (e) {
    await cleanup();
    throw e;
  }
  return {
    url: proc.url,
    db,
    process: proc,
    async sql<R>(text: string, params: unknown[] = []) {
      return (await pool.query(text, params)).rows as R[];
    },
    token(userId, ttlSeconds = 3600) {
      const now = Math.floor(Date.now() / 1000);
      const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const signed = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'syncline-dev' })}.${b64({ sub: userId, iat: now, exp: now + ttlSeconds })}`;
      return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
    },
    output: () => proc.tail(200),
    async [Symbol.asyncDispose]() {
      await proc.stop('SIGTERM', 15_000);
      await cleanup();
    },
  };
}
