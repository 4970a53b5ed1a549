/**
 * "Never two active replication jobs for one version", observed directly rather than through the
 * end state: samples the storage Postgres every `intervalMs` for, per ACTIVE/PROCESSING version,
 * the holders of the version's replication advisory lock (named by their connection's
 * application_name, `replicator-N:lock`) and the version's lease epoch (the fencing token every
 * replication commit checks). Violations it reports:
 * - two lock holders of one version in one sample;
 * - a process holding the lock on an epoch another process held before, without then taking a
 *   newer one (a takeover without a new lease: the old job's commits would not be fenced);
 * - the epoch moving backwards.
 * `settled()` checks the processes' own view (syncline.processes.active_versions of live
 * processes): after a takeover exactly one process reports the version active — a process that
 * lost its lock connection but kept running must have stopped its job.
 */
import type pg from 'pg';

/** Advisory lock class of replication jobs (engine replicator.ts: 'SY'). */
const REPLICATION_LOCK_CLASS = 0x5359;

interface Sample {
  at: number;
  version: number;
  epoch: number;
  holders: string[];
}

export interface JobMonitorReport {
  samples: number;
  /** Distinct (version, epoch) pairs seen, with the process that held the lock. */
  epochs: Array<{ version: number; epoch: number; holder: string }>;
  violations: string[];
  /** Longest stretch without any lock holder of a version (ms, sampled): the takeover gap. */
  maxGapMs: number;
}

const processOf = (applicationName: string) => applicationName.replace(/:lock$/, '');

export class JobMonitor {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private count = 0;
  /** Holders seen per `version/epoch`, in order. */
  private readonly holdersOfEpoch = new Map<string, string[]>();
  private readonly lastEpoch = new Map<number, number>();
  private readonly noHolderSince = new Map<number, number>();
  private maxGapMs = 0;
  readonly violations: string[] = [];

  constructor(
    private readonly storage: pg.Pool,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sample()
        .catch(() => {}) // storage briefly unreachable: the next sample tries again
        .finally(() => (this.running = null));
    }, this.intervalMs);
  }

  async stop(): Promise<JobMonitorReport> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    const epochs = [...this.holdersOfEpoch].map(([k, holders]) => {
      const [version, epoch] = k.split('/').map(Number) as [number, number];
      return { version, epoch, holders };
    });
    // The lock is taken just before the epoch is incremented, so a sample in between sees the new
    // holder on the old epoch. That is fine when the newcomer then took a newer epoch; a holder
    // that never moved past an epoch first held by another process took over without a lease.
    const violations = [...this.violations];
    for (const e of epochs) {
      for (const h of e.holders.slice(1)) {
        const advanced = epochs.some((o) => o.version === e.version && o.epoch > e.epoch && o.holders.includes(h));
        if (!advanced) violations.push(`version ${e.version}: lease epoch ${e.epoch} held by ${e.holders[0]} and then by ${h}, which never took a new lease`);
      }
    }
    return {
      samples: this.count,
      epochs: epochs.map((e) => ({ version: e.version, epoch: e.epoch, holder: e.holders.join('→') })),
      violations,
      maxGapMs: this.maxGapMs,
    };
  }

  private async sample(): Promise<void> {
    const { rows } = await this.storage.query<{ version: number; epoch: number; holders: string[] | null }>(
      `SELECT v.id AS version, v.lease_epoch AS epoch,
              (SELECT array_agg(a.application_name) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objsubid = 2 AND l.granted AND l.objid::bigint = v.id) AS holders
         FROM syncline.sync_rules_versions v WHERE v.state IN ('ACTIVE', 'PROCESSING')`,
      [REPLICATION_LOCK_CLASS],
    );
    this.count++;
    const at = performance.now();
    for (const r of rows) this.check({ at, version: r.version, epoch: r.epoch, holders: (r.holders ?? []).map(processOf) });
  }

  private check(s: Sample): void {
    if (s.holders.length > 1) this.violations.push(`version ${s.version}: ${s.holders.length} lock holders at once (${s.holders.join(', ')})`);
    const last = this.lastEpoch.get(s.version);
    if (last !== undefined && s.epoch < last) this.violations.push(`version ${s.version}: lease epoch went back from ${last} to ${s.epoch}`);
    this.lastEpoch.set(s.version, s.epoch);
    const holder = s.holders[0];
    if (holder === undefined) {
      if (!this.noHolderSince.has(s.version)) this.noHolderSince.set(s.version, s.at);
      return;
    }
    const since = this.noHolderSince.get(s.version);
    if (since !== undefined) {
      this.maxGapMs = Math.max(this.maxGapMs, Math.round(s.at - since));
      this.noHolderSince.delete(s.version);
    }
    const key = `${s.version}/${s.epoch}`;
    const holders = this.holdersOfEpoch.get(key) ?? this.holdersOfEpoch.set(key, []).get(key)!;
    if (!holders.includes(holder)) holders.push(holder);
  }

  /**
   * Waits until exactly one live process (by OS pid: a restarted process reuses its name) reports
   * `version` active in syncline.processes (fresh heartbeat) and it is `holder`; throws with what
   * it saw after `timeoutMs`.
   */
  async settled(version: number, holder: string, livePids: () => Set<number>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let seen: string[];
    for (;;) {
      const { rows } = await this.storage.query<{ name: string; pid: number }>(
        `SELECT name, pid FROM syncline.processes WHERE $1 = ANY(active_versions) AND state <> 'stopped' AND heartbeat_at > now() - interval '12 seconds'`,
        [version],
      );
      const live = livePids();
      seen = rows.filter((r) => live.has(Number(r.pid))).map((r) => r.name);
      if (seen.length === 1 && seen[0] === holder) return;
      if (Date.now() > deadline) throw new Error(`version ${version}: live processes reporting it active after the takeover: [${seen.join(', ')}], expected only ${holder}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
