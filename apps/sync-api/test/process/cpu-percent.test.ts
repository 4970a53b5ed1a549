import { describe, expect, it } from 'vitest';
import { cpuPercent } from '../../src/process/cpu-percent.ts';

describe('cpuPercent', () => {
  it('is CPU time (user + system) over wall time, in % of one core', () => {
    // 250 ms user + 50 ms system over 1 s of wall time → 30 %.
    expect(cpuPercent({ usage: { user: 1_000_000, system: 500_000 }, atMs: 10_000 }, { usage: { user: 1_250_000, system: 550_000 }, atMs: 11_000 })).toBe(30);
  });

  it('reads above 100 when the process keeps more than one core busy (worker threads)', () => {
    expect(cpuPercent({ usage: { user: 0, system: 0 }, atMs: 0 }, { usage: { user: 3_000_000, system: 1_000_000 }, atMs: 2_000 })).toBe(200);
  });

  it('rounds to one decimal', () => {
    expect(cpuPercent({ usage: { user: 0, system: 0 }, atMs: 0 }, { usage: { user: 12_345, system: 0 }, atMs: 1_000 })).toBe(1.2);
  });

  it('is 0 when no wall time passed or a counter went backwards', () => {
    const a = { usage: { user: 100, system: 100 }, atMs: 5 };
    expect(cpuPercent(a, { usage: { user: 900, system: 100 }, atMs: 5 })).toBe(0);
    expect(cpuPercent(a, { usage: { user: 50, system: 50 }, atMs: 1_005 })).toBe(0);
    expect(cpuPercent(a, { usage: { user: 900, system: 100 }, atMs: 1 })).toBe(0);
  });

  it('measures this process: a busy loop of ~300 ms reads well above an idle wait', async () => {
    const t0 = { usage: process.cpuUsage(), atMs: performance.now() };
    const until = performance.now() + 300;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    const t1 = { usage: process.cpuUsage(), atMs: performance.now() };
    await new Promise((r) => setTimeout(r, 300));
    const t2 = { usage: process.cpuUsage(), atMs: performance.now() };
    expect(x).toBeGreaterThan(0);
    expect(cpuPercent(t0, t1)).toBeGreaterThan(cpuPercent(t1, t2));
    expect(cpuPercent(t1, t2)).toBeLessThan(50);
  });
});
