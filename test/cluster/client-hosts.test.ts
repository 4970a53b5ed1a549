import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '@syncline/test-utils';
import { describe, expect, it } from 'vitest';
import { hostCount, startClientHosts } from './support/client-hosts.ts';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('client hosts of the cluster test', () => {
  it('uses about 60 clients per host, at least one and at most six hosts', () => {
    expect([0, 8, 60, 61, 300, 301, 5_000].map((n) => hostCount(n))).toEqual([1, 1, 1, 2, 5, 6, 6]);
  });

  it('answers over IPC and leaves no process behind when closed', { timeout: 60_000 }, async () => {
    const progress: string[] = [];
    const hosts = await startClientHosts(2, (m) => progress.push(m));
    expect(await hosts.open([], 'http://127.0.0.1:9', 'secret')).toBe(0);
    expect(await hosts.rawStatus()).toEqual({ raw: 0, completed: 0, waiting: [], waitingIds: [] });
    const summary = await hosts.summary();
    expect(summary.clients).toBe(0);
    expect(summary.cpuPercent).toHaveLength(2);
    const pids = hosts.pids();
    expect(pids.every(alive)).toBe(true);
    await hosts.close();
    expect(pids.filter(alive)).toEqual([]);
  });

  it('a host exits by itself when the test process goes away (its IPC channel closes)', { timeout: 60_000 }, async () => {
    const child = fork(fileURLToPath(new URL('./support/client-host.ts', import.meta.url)), [], { cwd: REPO_ROOT, execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await new Promise<void>((r) => child.once('spawn', () => r()));
    child.disconnect();
    expect(await exited).toBe(0);
  });
});
