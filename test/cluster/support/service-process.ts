/**
 * One Syncline service process of the cluster (replicator or API runner) as a real OS process:
 * spawned with the command the operator would use, named by PROCESS_NAME, stopped with a real
 * signal. Tracks the process's peak RSS (VmHWM) and keeps the tail of its output for failure
 * messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@syncline/test-utils';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * How the service is started: the TypeScript entry through tsx until the compiled build exists.
 * Switching to production mode is this one line: `['apps/sync-api/dist/main.js']`.
 */
export function serviceCommand(): string[] {
  return process.env.CLUSTER_SERVICE_ENTRY ? [process.env.CLUSTER_SERVICE_ENTRY] : ['--import', 'tsx', 'apps/sync-api/src/main.ts'];
}

export type Runner = 'replicator' | 'api';

export interface ClusterEnv {
  sourceUrl: string;
  storageUrl: string;
  publication: string;
  adminToken: string;
  jwtSecret: string;
  /** Extra variables for every process (e.g. DRAIN_TIMEOUT_MS). */
  extra?: Record<string, string>;
}

export interface ServiceProcess {
  readonly name: string;
  readonly runner: Runner;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Peak resident memory seen so far (bytes; sampled from /proc). */
  peakRss(): number;
  /** Samples /proc once (call periodically; also done before a signal). */
  sample(): Promise<void>;
  output(): string;
  alive(): boolean;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once exited. */
  stop(graceMs?: number): Promise<void>;
}

async function readPeakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

export async function startServiceProcess(name: string, runner: Runner, env: ClusterEnv): Promise<ServiceProcess> {
  const port = await freePort();
  let out = '';
  const child = spawn(process.execPath, serviceCommand(), {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? '',
      SOURCE_DATABASE_URL: env.sourceUrl,
      STORAGE_DATABASE_URL: env.storageUrl,
      PUBLICATION_NAME: env.publication,
      ADMIN_TOKEN: env.adminToken,
      JWT_SECRET: env.jwtSecret,
      SYNC_API_PORT: String(port),
      SYNC_API_HOST: '127.0.0.1',
      SYNC_RUNNER: runner,
      PROCESS_NAME: name,
      DEV_MODE: 'true',
      LOG_LEVEL: process.env.CLUSTER_LOG_LEVEL ?? 'warn',
      ...env.extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-30_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  let peak = 0;
  const url = `http://127.0.0.1:${port}`;
  const alive = () => child.exitCode === null && child.signalCode === null;
  const p: ServiceProcess = {
    name,
    runner,
    port,
    url,
    pid: child.pid!,
    child,
    exited,
    peakRss: () => peak,
    async sample() {
      if (alive()) peak = Math.max(peak, await readPeakRss(child.pid!));
    },
    output: () => out,
    alive,
    signal(sig) {
      if (alive()) child.kill(sig);
    },
    async stop(graceMs = 20_000) {
      if (!alive()) return;
      await p.sample();
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(t);
    },
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (!alive()) throw new Error(`${name} (${runner}) exited during startup:\n${out}`);
    if (await fetch(`${url}/probes/liveness`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} (${runner}) did not answer /probes/liveness within 90 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return p;
}

/** Whether process `pid` owns a TCP socket whose local port is `port` (Linux /proc). */
export async function ownsLocalPort(pid: number, port: number): Promise<boolean> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hex}`)) inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return false;
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1]!)) return true;
  }
  return false;
}
