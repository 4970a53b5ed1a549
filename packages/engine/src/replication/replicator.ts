/**
 * Supervisor of replication jobs in one process. Every version in PROCESSING or ACTIVE state gets
 * exactly one job across all processes, guarded by a session-level advisory lock on the storage
 * database: a second replicator waits, and takes over when the holder dies (its session ends).
 * Stopped versions are terminated: slot dropped, storage deleted in batches.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { deployVersion, deleteVersionData, getVersionsInState, setFatalError, setVersionState } from '../storage/pg-versions.ts';
import type { SyncRulesVersion } from '../storage/storage-types.ts';
import { ReplicationError } from './replication-errors.ts';
import { ReplicationMetrics } from './replication-metrics.ts';
import { runReplicationJob } from './replication-job.ts';

const LOCK_CLASS = 0x5359; // 'SY'

export interface ReplicatorOptions {
  sourceUrl: string;
  storageUrl: string;
  publication: string;
  logger: Logger;
  pollMs?: number;
  heartbeatMs?: number;
}

interface RunningJob {
  version: SyncRulesVersion;
  abort: AbortController;
  lock: pg.Client;
  done: Promise<void>;
  metrics: ReplicationMetrics;
}

export class Replicator {
  readonly source: pg.Pool;
  readonly storage: pg.Pool;
  private readonly jobs = new Map<number, RunningJob>();
  private readonly failures = new Map<number, { count: number; retryAt: number }>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly o: ReplicatorOptions) {
    this.source = new pg.Pool({ connectionString: o.sourceUrl, max: 4 });
    this.storage = new pg.Pool({ connectionString: o.storageUrl, max: 8 });
    this.source.on('error', (e) => o.logger.warn({ error: e.message }, 'source pool connection error'));
    this.storage.on('error', (e) => o.logger.warn({ error: e.message }, 'storage pool connection error'));
    // A checked-out client (pool.connect(), e.g. a flush transaction) has no error listener of the
    // pool's: a dropped connection would then be an uncaught 'error' event that ends the process.
    // The failing query still rejects; the pool discards the broken client on release.
    for (const pool of [this.source, this.storage]) pool.on('connect', (client) => client.on('error', () => {}));
  }

  /** Metrics of the jobs running in this process, by version id. */
  metrics(): Map<number, ReplicationMetrics> {
    return new Map([...this.jobs].map(([id, j]) => [id, j.metrics]));
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick()
        .catch((e) => this.o.logger.error({ err: e }, 'replicator tick failed'))
        .finally(() => {
          this.ticking = null;
          if (!this.stopped) this.timer = setTimeout(loop, this.o.pollMs ?? 1000);
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await Promise.all([...this.jobs.values()].map((j) => this.stopJob(j)));
    await Promise.allSettled([this.source.end(), this.storage.end()]);
  }

  /** One supervision pass (exposed for tests). */
  async tick(): Promise<void> {
    const versions = await getVersionsInState(this.storage, ['PROCESSING', 'ACTIVE', 'STOPPED']);
    const wanted = new Set(versions.filter((v) => v.state !== 'STOPPED').map((v) => v.id));
    for (const job of [...this.jobs.values()]) {
      if (!wanted.has(job.version.id)) await this.stopJob(job);
    }
    for (const v of versions) {
      if (this.stopped) return;
      if (v.state === 'STOPPED') {
        await this.terminate(v);
        continue;
      }
      if (this.jobs.has(v.id)) continue;
      const f = this.failures.get(v.id);
      if (f && Date.now() < f.retryAt) continue;
      const lock = await this.tryLock(v.id);
      if (!lock) continue;
      this.startJob(v, lock);
    }
  }

  private startJob(version: SyncRulesVersion, lock: pg.Client): void {
    const abort = new AbortController();
    const metrics = new ReplicationMetrics();
    const logger = this.o.logger.child({ component: 'replication', version: version.id });
    logger.info({ state: version.state }, 'replication job starting');
    const job: RunningJob = { version, abort, lock, metrics, done: Promise.resolve() };
    job.done = runReplicationJob({
      version,
      sourceUrl: this.o.sourceUrl,
      source: this.source,
      storage: this.storage,
      publication: this.o.publication,
      logger,
      metrics,
      signal: abort.signal,
      heartbeatMs: this.o.heartbeatMs,
    })
      .then(() => {
        this.failures.delete(version.id);
      })
      .catch(async (e: unknown) => {
        if (abort.signal.aborted) return;
        await this.onJobFailure(version, e, logger);
      })
      .finally(async () => {
        this.jobs.delete(version.id);
        await lock.end().catch(() => {});
      });
    this.jobs.set(version.id, job);
  }

  private async onJobFailure(version: SyncRulesVersion, e: unknown, logger: Logger): Promise<void> {
    const message = e instanceof Error ? e.message : String(e);
    logger.error({ err: e }, 'replication job failed');
    await setFatalError(this.storage, version.id, message).catch(() => {});
    if (e instanceof ReplicationError && e.code === 'SLOT_LOST') {
      // Keep serving the old data as ERRORED while a fresh version re-snapshots.
      await setVersionState(this.storage, version.id, version.state === 'ACTIVE' ? 'ERRORED' : 'STOPPED', message);
      await deployVersion(this.storage, version.content, `automatic redeploy after slot loss of version ${version.id}`);
      return;
    }
    const prev = this.failures.get(version.id)?.count ?? 0;
    const delay = Math.min(60_000, 500 * 2 ** prev) * (0.5 + Math.random() / 2);
    this.failures.set(version.id, { count: prev + 1, retryAt: Date.now() + delay });
  }

  private async stopJob(job: RunningJob): Promise<void> {
    job.abort.abort();
    await job.done;
  }

  private async tryLock(versionId: number): Promise<pg.Client | null> {
    const client = new pg.Client({ connectionString: this.o.storageUrl });
    client.on('error', () => {});
    await client.connect();
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_CLASS, versionId]);
    if (rows[0]?.ok) return client;
    await client.end();
    return null;
  }

  /** Drops a stopped version's slot and data, then marks it TERMINATED. */
  private async terminate(v: SyncRulesVersion): Promise<void> {
    const lock = await this.tryLock(v.id);
    if (!lock) return;
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        const { rows } = await this.source.query<{ active_pid: number | null }>(
          'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1',
          [v.slotName],
        );
        if (!rows[0]) break;
        if (rows[0].active_pid) {
          await this.source.query('SELECT pg_terminate_backend($1)', [rows[0].active_pid]);
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        try {
          await this.source.query('SELECT pg_drop_replication_slot($1)', [v.slotName]);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await deleteVersionData(this.storage, v.id);
      await setVersionState(this.storage, v.id, 'TERMINATED');
      this.o.logger.info({ version: v.id }, 'stopped version terminated: slot dropped, storage deleted');
    } finally {
      await lock.end().catch(() => {});
    }
  }
}
