/**
 * Runs the sync-api as a real child process for multi-process tests (drain, failover, cluster):
 * the compiled bundle `node apps/sync-api/dist/main.js` (plain node, NODE_OPTIONS cleared, no
 * loader) or the TypeScript sources through tsx. Output lines (pino JSON) are kept for assertions.
 *
 * @example
 * await buildSyncApi();
 * await using api = await startSyncApiProcess({ runner: 'api', compiled: true, env: { SOURCE_DATABASE_URL, ADMIN_TOKEN, JWT_SECRET } });
 * await fetch(`${api.url}/probes/readiness`);
 * const exit = await api.stop('SIGTERM'); // { code: 0, signal: null, afterMs }
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { freePort } from './free-port.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SYNC_API_BUNDLE = path.join(REPO_ROOT, 'apps/sync-api/dist/main.js');

let building: Promise<void> | null = null;

/** Runs `npm run build --workspace @syncline/sync-api` once per test process. */
export function buildSyncApi(): Promise<void> {
  building ??= new Promise<void>((resolve, reject) => {
    execFile('npm', ['run', 'build', '--workspace', '@syncline/sync-api'], { cwd: REPO_ROOT, timeout: 120_000 }, (e, _out, stderr) =>
      e ? reject(new Error(`sync-api build failed: ${e.message}\n${stderr}`)) : resolve(),
    );
  });
  return building;
}

export interface SyncApiProcessOptions {
  /** Config env (SOURCE_DATABASE_URL, ADMIN_TOKEN, JWT_SECRET, …); SYNC_API_PORT is chosen unless given. */
  env: Record<string, string>;
  runner?: 'unified' | 'api' | 'replicator';
  /** true: `node dist/main.js` (run buildSyncApi() first); false: the sources through tsx. Default true. */
  compiled?: boolean;
  /** PROCESS_NAME (default `<runner>-<port>`). */
  name?: string;
  /** Wait until `/probes/liveness` (default) or `/probes/readiness` answers 200, or not at all. */
  waitFor?: 'live' | 'ready' | 'none';
  startTimeoutMs?: number;
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
  readonly child: ChildProcess;
  /** Output lines so far (stdout and stderr). */
  readonly output: string[];
  /** stdout lines parsed as pino JSON (others skipped). */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the first log record matching, or rejects after timeoutMs. */
  waitForLog(match: (r: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  readonly exited: Promise<ProcessExit>;
  /** Sends `signal` and waits for the exit (SIGKILL after timeoutMs). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ProcessExit & { afterMs: number }>;
}

export async function startSyncApiProcess(opts: SyncApiProcessOptions): Promise<SyncApiProcess> {
  const port = opts.env.SYNC_API_PORT ? Number(opts.env.SYNC_API_PORT) : await freePort();
  const runner = opts.runner ?? 'unified';
  const name = opts.name ?? `${runner}-${port}`;
  const compiled = opts.compiled ?? true;
  // A clean environment: nothing of the test runner's (NODE_OPTIONS loaders, vitest vars) leaks in.
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LOG_LEVEL: 'info',
    ...opts.env,
    SYNC_API_PORT: String(port),
    SYNC_API_HOST: '127.0.0.1',
    SYNC_RUNNER: runner,
    PROCESS_NAME: name,
  };
  const args = compiled ? [SYNC_API_BUNDLE] : ['--import', 'tsx', path.join(REPO_ROOT, 'apps/sync-api/src/main.ts')];
  // Next's types (the dashboard compiles this file too) make NODE_ENV required in ProcessEnv.
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: env as unknown as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const proc: SyncApiProcess = {
    name,
    url,
    port,
    child,
    output,
    logs,
    exited,
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
