/**
 * A child process started by the e2e setup: its own process group (so `next start` and anything it
 * forks stop together), output captured to a log file, and a stop() that escalates to SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ChildService {
  readonly name: string;
  readonly logFile: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

export function startChildService(opts: {
  name: string;
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
}): ChildService {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${opts.name}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(opts.command, opts.args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  // stdin stays open while this process lives; a sync-api started with EXIT_ON_STDIN_CLOSE exits when it closes.
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };

  return {
    name: opts.name,
    logFile,
    child,
    async stop() {
      signalGroup('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
      if (!done) {
        signalGroup('SIGKILL');
        await exited;
      }
      log.end();
    },
  };
}

/** Polls `url` until it answers (any HTTP status below 500), the child exits, or the timeout passes. */
export async function waitForHttp(url: string, service: ChildService | null, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer';
  while (Date.now() < deadline) {
    if (service && (service.child.exitCode !== null || service.child.signalCode !== null)) {
      throw new Error(`${service.name} exited (${service.child.exitCode ?? service.child.signalCode}) before answering ${url}; see ${service.logFile}`);
    }
    try {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.status < 500) return;
      lastError = `HTTP ${res.status}`;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    await sleep(150);
  }
  throw new Error(`${service?.name ?? url} did not answer ${url} within ${timeoutMs} ms (${lastError})${service ? `; see ${service.logFile}` : ''}`);
}
