import { describe, expect, it } from 'vitest';
import { downsampleHistory, processStatus, replicatorsByVersion, type ReplicationHolder, type SamplePoint } from '../../src/admin/cluster-view.ts';

describe('processStatus', () => {
  it('is the reported state while heartbeats arrive', () => {
    expect(processStatus('ready', 4, 20)).toBe('ready');
    expect(processStatus('starting', 0, 20)).toBe('starting');
    expect(processStatus('draining', 19.9, 20)).toBe('draining');
  });

  it('is gone once the last heartbeat is older than the bound (killed or cut off)', () => {
    expect(processStatus('ready', 20.1, 20)).toBe('gone');
    expect(processStatus('draining', 60, 20)).toBe('gone');
  });

  it('stays stopped after a clean exit, however old the heartbeat', () => {
    expect(processStatus('stopped', 1, 20)).toBe('stopped');
    expect(processStatus('stopped', 500, 20)).toBe('stopped');
  });
});

describe('replicatorsByVersion', () => {
  const p = (id: string, status: ReplicationHolder['status'], active: number[], standby: number[], lag: number | null = null): ReplicationHolder => ({
    id,
    name: `n-${id}`,
    status,
    activeVersions: active,
    standbyVersions: standby,
    replicationLagMs: lag,
  });

  it('names the live holder of each version and its live standbys', () => {
    const r = replicatorsByVersion(
      [
        { id: 1, state: 'ACTIVE' },
        { id: 2, state: 'PROCESSING' },
      ],
      [p('a', 'ready', [1], [2], 12), p('b', 'ready', [2], [1], 3), p('c', 'ready', [], [1, 2]), p('api', 'ready', [], [])],
    );
    expect(r).toEqual([
      { versionId: 1, state: 'ACTIVE', active: { id: 'a', name: 'n-a', lagMs: 12 }, conflicting: [], standbys: [{ id: 'b', name: 'n-b' }, { id: 'c', name: 'n-c' }] },
      { versionId: 2, state: 'PROCESSING', active: { id: 'b', name: 'n-b', lagMs: 3 }, conflicting: [], standbys: [{ id: 'a', name: 'n-a' }, { id: 'c', name: 'n-c' }] },
    ]);
  });

  it('ignores gone and stopped processes: no active replicator during a failover', () => {
    const [v] = replicatorsByVersion([{ id: 1, state: 'ACTIVE' }], [p('dead', 'gone', [1], []), p('old', 'stopped', [1], []), p('s', 'draining', [], [1])]);
    expect(v!.active).toBeNull();
    expect(v!.standbys.map((s) => s.id)).toEqual(['s']);
  });

  it('reports two live processes claiming one version as a conflict', () => {
    const [v] = replicatorsByVersion([{ id: 1, state: 'ACTIVE' }], [p('a', 'ready', [1], []), p('b', 'ready', [1], [])]);
    expect(v!.conflicting).toEqual(['n-a', 'n-b']);
  });
});

describe('downsampleHistory', () => {
  const s = (processId: string, at: number, v: number, lag: number | null = null): SamplePoint => ({
    processId,
    at,
    connections: v,
    rssBytes: v * 1000,
    heapUsedBytes: v * 100,
    cpuPercent: v / 10,
    replicationLagMs: lag,
  });

  it('averages each process over equal buckets and keeps the worst lag', () => {
    const out = downsampleHistory([s('a', 0, 10, 5), s('a', 10_000, 20, 50), s('b', 5_000, 4), s('a', 20_000, 30, null)], {
      fromMs: 0,
      toMs: 40_000,
      maxPoints: 2,
      minBucketMs: 10_000,
    });
    expect(out).toEqual([
      {
        t: new Date(0).toISOString(),
        byProcess: {
          a: { connections: 15, rssBytes: 15_000, heapUsedBytes: 1_500, cpuPercent: 1.5, replicationLagMs: 50 },
          b: { connections: 4, rssBytes: 4_000, heapUsedBytes: 400, cpuPercent: 0.4, replicationLagMs: null },
        },
      },
      { t: new Date(20_000).toISOString(), byProcess: { a: { connections: 30, rssBytes: 30_000, heapUsedBytes: 3_000, cpuPercent: 3, replicationLagMs: null } } },
    ]);
  });

  it('never makes buckets narrower than the sampling interval, and bounds their number', () => {
    const samples = Array.from({ length: 8640 }, (_, i) => s('a', i * 10_000, i % 7));
    const day = downsampleHistory(samples, { fromMs: 0, toMs: 86_400_000, maxPoints: 120, minBucketMs: 10_000 });
    expect(day.length).toBe(120);
    const short = downsampleHistory(samples.slice(0, 6), { fromMs: 0, toMs: 60_000, maxPoints: 120, minBucketMs: 10_000 });
    expect(short.length).toBe(6);
  });

  it('leaves out samples outside the window and buckets without samples (a gap in the chart)', () => {
    const out = downsampleHistory([s('a', -1, 1), s('a', 0, 2), s('a', 50_000, 3), s('a', 60_001, 4)], { fromMs: 0, toMs: 60_000, maxPoints: 6, minBucketMs: 10_000 });
    expect(out.map((b) => [b.t, b.byProcess.a?.connections])).toEqual([
      [new Date(0).toISOString(), 2],
      [new Date(50_000).toISOString(), 3],
    ]);
  });
});
