/** CPU use of this process between two readings of `process.cpuUsage()` (pure arithmetic). */

export interface CpuReading {
  /** `process.cpuUsage()` (µs of user and system CPU since the process started). */
  usage: { user: number; system: number };
  /** Wall clock of the reading (ms, monotonic: `performance.now()`). */
  atMs: number;
}

/**
 * CPU time spent between the readings as a percentage of one core's wall time (0–100 per busy
 * core: a process using two cores fully reads 200). 0 when no wall time passed or a counter went
 * backwards; rounded to 0.1.
 */
export function cpuPercent(prev: CpuReading, next: CpuReading): number {
  const wallUs = (next.atMs - prev.atMs) * 1000;
  if (!(wallUs > 0)) return 0;
  const cpuUs = next.usage.user - prev.usage.user + (next.usage.system - prev.usage.system);
  if (!(cpuUs > 0)) return 0;
  return Math.round((cpuUs / wallUs) * 1000) / 10;
}
