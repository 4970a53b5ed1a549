/** Pid-file handling for `npm start`, so a run killed with SIGKILL does not block the next one. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunFile {
  /** Pid of the start script itself. */
  supervisor?: number;
  postgresPort: number | null;
  children: number[];
}

export async function writeRunFile(dataDir: string, run: RunFile): Promise<void> {
  await writeFile(path.join(dataDir, 'run.json'), JSON.stringify({ ...run, supervisor: process.pid }));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops whatever a previous run left behind: first its supervisor (which shuts its children and
 * Postgres down cleanly), then any child still alive. Postgres itself is recovered separately
 * from postmaster.pid.
 */
export async function killStaleRun(dataDir: string, log: (m: string) => void): Promise<void> {
  let run: RunFile;
  try {
    run = JSON.parse(await readFile(path.join(dataDir, 'run.json'), 'utf8')) as RunFile;
  } catch {
    return;
  }
  const pids = [run.supervisor, ...run.children].filter((p): p is number => typeof p === 'number' && p !== process.pid && alive(p));
  if (pids.length === 0) return;
  log(`stopping processes left by a previous run: ${pids.join(', ')}`);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 100 && pids.some(alive); i++) await sleep(100);
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
