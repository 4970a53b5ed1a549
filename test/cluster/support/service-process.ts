/**
 * One Syncline service process of the cluster (replicator or API runner) as a real OS process:
 * the compiled bundle started the way an operator starts it (`node apps/sync-api/dist/main.js`,
 * built first when stale; SYNCLINE_TEST_SPAWN=tsx runs the sources instead), named by
 * PROCESS_NAME, stopped with a real signal. The spawning itself is test-utils'
 * `startSyncApiProcess` (peak RSS from /proc, output kept for failure messages).
 */
import { readFile, readdir, readlink } from 'node:fs/promises';
import { startSyncApiProcess, type SyncApiProcess } from '@syncline/test-utils';

export type Runner = 'replicator' | 'api';
export type ServiceProcess = SyncApiProcess;

export interface ClusterEnv {
  sourceUrl: string;
  storageUrl: string;
  publication: string;
  adminToken: string;
  jwtSecret: string;
  /** Extra variables for every process (e.g. DRAIN_TIMEOUT_MS). */
  extra?: Record<string, string>;
}

export function startServiceProcess(name: string, runner: Runner, env: ClusterEnv): Promise<ServiceProcess> {
  return startSyncApiProcess({
    name,
    runner,
    waitFor: 'live',
    startTimeoutMs: 90_000,
    logLevel: process.env.CLUSTER_LOG_LEVEL ?? 'warn',
    env: {
      SOURCE_DATABASE_URL: env.sourceUrl,
      STORAGE_DATABASE_URL: env.storageUrl,
      PUBLICATION_NAME: env.publication,
      ADMIN_TOKEN: env.adminToken,
      JWT_SECRET: env.jwtSecret,
      DEV_MODE: 'true',
      ...env.extra,
    },
  });
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
