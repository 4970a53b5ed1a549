import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ChangeAnomalies, LOG_INTERVAL_MS } from '../../src/replication/change-anomalies.ts';
import { ReplicationMetrics } from '../../src/replication/replication-metrics.ts';

function setup() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
  const metrics = new ReplicationMetrics();
  let now = 1_000_000;
  const anomalies = new ChangeAnomalies(metrics, logger, () => now);
  return { lines, metrics, anomalies, advance: (ms: number) => (now += ms) };
}

describe('change anomalies', () => {
  it('counts every unmatched delete and logs a summary per table at most every interval', () => {
    const { lines, metrics, anomalies, advance } = setup();
    anomalies.unmatchedDeletes('public.items', 2);
    anomalies.unmatchedDeletes('public.items', 3);
    anomalies.unmatchedDeletes('public.other', 1);
    expect(metrics.unmatchedDeletes).toBe(6);
    expect(lines.map((l) => [l.code, l.table, l.count])).toEqual([
      ['UNMATCHED_DELETE', 'public.items', 2],
      ['UNMATCHED_DELETE', 'public.other', 1],
    ]);
    advance(LOG_INTERVAL_MS);
    anomalies.unmatchedDeletes('public.items', 1);
    expect(lines.at(-1)).toMatchObject({ code: 'UNMATCHED_DELETE', table: 'public.items', count: 4 });
  });

  it('counts and logs changes without key values, never the values themselves', () => {
    const { lines, metrics, anomalies } = setup();
    anomalies.unkeyedChange('public.items', 'delete');
    expect(metrics.unkeyedChanges).toBe(1);
    expect(lines[0]).toMatchObject({ code: 'CHANGE_WITHOUT_KEY', table: 'public.items (delete)', count: 1 });
    anomalies.unmatchedDeletes('public.items', 0);
    expect(metrics.unmatchedDeletes).toBe(0);
  });
});
