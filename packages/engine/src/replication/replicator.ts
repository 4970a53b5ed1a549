/**
 * Supervisor of replication jobs in one process. Every version in PROCESSING or ACTIVE state gets
 * exactly one job across all processes, guarded by a session-level advisory lock on the storage
 * database: a second replicator (standby) waits on the lock itself — a blocking
 * `pg_advisory_lock` on a dedicated connection — so Postgres hands it the lock the moment the
 * holder's session ends (process died or its lock connection dropped), not at its next poll.
 * A job whose lock session ends (error/end event, or the periodic pg_locks check fails) is stopped
 * at once, and its writes are fenced by a lease epoch (pg-replication-lease.ts), so a process that
 * lost its lock cannot commit after another one took over.
 * Stopped versions are terminated in the background (slot dropped, storage deleted in throttled
 * batches), so cleanup never delays a job's start or restart.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { PROCESS_STALE_SECONDS } from '../admin/cluster-view.ts';
import { processesReadingVersion } from '../storage/pg-processes.ts';
import { deployVersion, deleteVersionData, getVersion, getVersionsInState, setFatalError, setVersionState } from '../storage/pg-versions.ts';
import { withConnectionPurpose } from '../storage/application-name.ts';
import { takeReplicationLease } from '../storage/pg-replication-lease.ts';
import type { SyncRulesVersion } from '../storage/storage-types.ts';
import { ReplicationError } from './replication-errors.ts';
import { LOCK_CLASS, timedQuery, trackLockSession, type LockSession, type LockWait } from './replication-lock.ts';
import { ReplicationMetrics } from './replication-metrics.ts';
import { runReplicationJob } from './replication-job.ts';

export interface ReplicatorOptions {
  sourceUrl: string;
  storageUrl: string;
  publication: string;
  logger: Logger;
  pollMs?: number;
  heartbeatMs?: number;
  /** How often a running job checks that its lock session still holds the lock (ms, default 2000). */
  lockCheckMs?: number;
  /** Rows deleted per batch when cleaning up a stopped version (default 5000). */
  cleanupBatch?: number;
  /** Pause between cleanup batches (ms, default 50), so cleanup does not starve replication and sync. */
  cleanupPauseMs?: number;
  /**
   * Longest wait (ms, default 10 min) for API processes that still read a stopped version (open
   * streams on it, or not yet told it stopped) before its op-log is deleted anyway.
   */
  cleanupReaderWaitMs?: number;
}

interface RunningJob {
  version: SyncRulesVersion;
  abort: AbortController;
  lock: LockSession;
  done: Promise<void>;
  metrics: ReplicationMetrics;
  /** Set once the job is being stopped on purpose: lock events after this are expected. */
  releasing: boolean;
}

export class Replicator {
  readonly source: pg.Pool;
  readonly storage: pg.Pool;
  private readonly jobs = new Map<number, RunningJob>();
  private readonly failures = new Map<number, { count: number; retryAt: number }>();
  private readonly cleanups = new Map<number, Promise<void>>();
  /** Stopped versions whose cleanup waits for readers: when to look again. */
  private readonly cleanupRetryAt = new Map<number, number>();
  private readonly waits = new Map<number, LockWait>();
  private readonly cleanupAbort = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopped = false;
  private standby: number[] = [];

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

  /** Versions this process is replicating right now (jobs not yet told to stop). */
  runningVersions(): number[] {
    return [...this.jobs.values()].filter((j) => !j.abort.signal.aborted).map((j) => j.version.id);
  }

  /**
   * Versions this process waits for as a standby: wanted (PROCESSING/ACTIVE) but replicated by
   * another process, which holds their lock (or backed off after a failure); as of the last pass.
   */
  standbyVersions(): number[] {
    const running = new Set(this.runningVersions());
    return this.standby.filter((id) => !running.has(id));
  }

  /** Stopped versions whose cleanup is in progress in this process. */
  cleaningVersions(): number[] {
    return [...this.cleanups.keys()];
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
    for (const w of this.waits.values()) this.cancelWait(w);
    await Promise.allSettled([...this.waits.values()].map((w) => w.done));
    this.cleanupAbort.abort();
    await Promise.all([...this.jobs.values()].map((j) => this.stopJob(j)));
    await Promise.allSettled([...this.cleanups.values()]);
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
        this.startCleanup(v);
        continue;
      }
      if (this.jobs.has(v.id) || this.waits.has(v.id)) continue;
      const f = this.failures.get(v.id);
      if (f && Date.now() < f.retryAt) continue;
      this.waitForLock(v.id);
    }
    for (const [id, w] of this.waits) if (!wanted.has(id)) this.cancelWait(w);
    this.standby = [...wanted].filter((id) => !this.jobs.has(id));
  }

  /**
   * Waits for a version's lock on a dedicated connection (a blocking `pg_advisory_lock`: granted
   * by Postgres as soon as the holder's session ends), then takes a new lease and starts the job.
   * A wait that fails (connection lost) is retried by the next pass.
   */
  private waitForLock(versionId: number): void {
    const client = new pg.Client({ connectionString: withConnectionPurpose(this.o.storageUrl, 'lock'), keepAlive: true });
    const wait: LockWait = { client, cancelled: false, done: Promise.resolve() };
    const session = trackLockSession(client);
    wait.done = (async () => {
      let pid: number;
      try {
        await client.connect();
        // No query timeout: this blocks for as long as another process holds the lock.
        const { rows } = await client.query<{ pid: number }>('SELECT pg_advisory_lock($1, $2), pg_backend_pid() AS pid', [LOCK_CLASS, versionId]);
        pid = rows[0]!.pid;
      } catch (e) {
        if (!wait.cancelled && !this.stopped) this.o.logger.warn({ err: e, version: versionId }, 'waiting for the replication lock failed; retried on the next pass');
        await client.end().catch(() => {});
        return;
      }
      try {
        // The wait may have lasted long: act on the version as it is now.
        const version = wait.cancelled || this.stopped ? null : await getVersion(this.storage, versionId);
        if (!version || (version.state !== 'PROCESSING' && version.state !== 'ACTIVE') || this.stopped) {
          await client.end().catch(() => {});
          return;
        }
        const epoch = await takeReplicationLease(this.storage, versionId);
        if (this.stopped) {
          await client.end().catch(() => {});
          return;
        }
        session.pid = pid;
        this.startJob(version, session, epoch);
      } catch (e) {
        this.o.logger.warn({ err: e, version: versionId }, 'starting a replication job after taking its lock failed; retried after a backoff');
        this.backOff(versionId);
        await client.end().catch(() => {});
      }
    })().finally(() => {
      if (this.waits.get(versionId) === wait) this.waits.delete(versionId);
    });
    this.waits.set(versionId, wait);
  }

  /** Ends a lock wait (its connection closes, so Postgres drops the pending lock request). */
  private cancelWait(w: LockWait): void {
    w.cancelled = true;
    void w.client.end().catch(() => {});
  }

  private startJob(version: SyncRulesVersion, lock: LockSession, epoch: number): void {
    const abort = new AbortController();
    const metrics = new ReplicationMetrics();
    const logger = this.o.logger.child({ component: 'replication', version: version.id });
    logger.info({ state: version.state, lease: epoch, lockPid: lock.pid }, 'replication job starting');
    const job: RunningJob = { version, abort, lock, metrics, done: Promise.resolve(), releasing: false };
    const check = this.watchLock(job, logger);
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
      leaseEpoch: epoch,
    })
      .then(() => {
        this.failures.delete(version.id);
      })
      .catch(async (e: unknown) => {
        if (abort.signal.aborted) return;
        if (e instanceof ReplicationError && e.code === 'LEASE_LOST') {
          logger.warn({ err: e }, 'replication job fenced off: another process took the version over');
          this.backOff(version.id);
          return;
        }
        await this.onJobFailure(version, e, logger);
      })
      .finally(async () => {
        clearInterval(check);
        job.releasing = true;
        this.jobs.delete(version.id);
        await lock.client.end().catch(() => {});
      });
    this.jobs.set(version.id, job);
  }

  /**
   * Stops the job as soon as its lock session is gone: the connection reports an error or ends,
   * or the periodic check finds the lock no longer held by the session's backend.
   */
  private watchLock(job: RunningJob, logger: Logger): NodeJS.Timeout {
    const lost = (reason: string, err?: unknown) => {
      if (job.releasing || job.abort.signal.aborted) return;
      logger.error({ reason, err, lockPid: job.lock.pid }, 'replication lock lost: stopping the job (another process may take over)');
      this.backOff(job.version.id);
      job.abort.abort();
    };
    const { client } = job.lock;
    job.lock.onLost = lost;
    // Lost between the grant and now (while the lease was taken): stop at once.
    if (job.lock.lost) lost(job.lock.lost.reason, job.lock.lost.err);
    const timer = setInterval(() => {
      client
        .query<{ held: boolean }>(
          timedQuery(
            `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2
                              AND objsubid = 2 AND pid = pg_backend_pid() AND granted) AS held`,
            [LOCK_CLASS, job.version.id],
          ),
        )
        .then((r) => {
          if (!r.rows[0]?.held) lost('lock no longer held by the lock session');
        })
        .catch((e: unknown) => lost('lock check failed', e));
    }, this.o.lockCheckMs ?? 2000);
    timer.unref();
    return timer;
  }

  /** Delays this process's next attempt at a version (capped, jittered exponential backoff). */
  private backOff(versionId: number): void {
    const prev = this.failures.get(versionId)?.count ?? 0;
    const delay = Math.min(60_000, 500 * 2 ** prev) * (0.5 + Math.random() / 2);
    this.failures.set(versionId, { count: prev + 1, retryAt: Date.now() + delay });
  }

  private async onJobFailure(version: SyncRulesVersion, e: unknown, logger: Logger): Promise<void> {
    const message = e instanceof Error ? e.message : String(e);
    logger.error({ err: e }, 'replication job failed');
    await setFatalError(this.storage, version.id, message).catch(() => {});
    if (e instanceof ReplicationError && e.code === 'SLOT_LOST') {
      // Keep serving the old data as ERRORED while a fresh version re-snapshots.
      await setVersionState(this.storage, version.id, version.state === 'ACTIVE' ? 'ERRORED' : 'STOPPED', message);
      await deployVersion(this.storage, version.content, `automatic redeploy after slot loss of version ${version.id}`, { source: 'auto-redeploy' });
      return;
    }
    this.backOff(version.id);
  }

  private async stopJob(job: RunningJob): Promise<void> {
    job.releasing = true;
    job.abort.abort();
    await job.done;
  }

  /** Takes a version's lock if it is free (cleanup of stopped versions; never waits). */
  private async tryLock(versionId: number): Promise<LockSession | null> {
    // keepAlive: a silently dead connection is noticed by TCP too, not only by the periodic check.
    const client = new pg.Client({ connectionString: withConnectionPurpose(this.o.storageUrl, 'lock'), keepAlive: true });
    const session = trackLockSession(client);
    await client.connect();
    try {
      const { rows } = await client.query<{ ok: boolean; pid: number }>(timedQuery('SELECT pg_try_advisory_lock($1, $2) AS ok, pg_backend_pid() AS pid', [LOCK_CLASS, versionId]));
      if (rows[0]?.ok) {
        session.pid = rows[0].pid;
        return session;
      }
    } catch (e) {
      await client.end().catch(() => {});
      throw e;
    }
    await client.end();
    return null;
  }

  /** Starts the cleanup of a stopped version in the background (once per version at a time). */
  private startCleanup(v: SyncRulesVersion): void {
    if (this.cleanups.has(v.id) || Date.now() < (this.cleanupRetryAt.get(v.id) ?? 0)) return;
    const running = this.terminate(v)
      .catch((e: unknown) => {
        if (!this.cleanupAbort.signal.aborted) this.o.logger.warn({ err: e, version: v.id }, 'cleanup of a stopped version failed; retried on the next pass');
      })
      .finally(() => this.cleanups.delete(v.id));
    this.cleanups.set(v.id, running);
  }

  /**
   * Drops a stopped version's slot and data (throttled batches), then marks it TERMINATED. The data
   * is deleted only once no live process reads it any more (see `processesReadingVersion`): a
   * stream still downloading the version would otherwise send pages the cleanup already emptied
   * and complete a checkpoint whose checksums the client then fails.
   */
  private async terminate(v: SyncRulesVersion): Promise<void> {
    const lock = await this.tryLock(v.id);
    if (!lock) return;
    const signal = this.cleanupAbort.signal;
    const started = performance.now();
    try {
      for (let attempt = 0; attempt < 20 && !signal.aborted; attempt++) {
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
      if (await this.stillRead(v)) return;
      const deleted = await deleteVersionData(this.storage, v.id, {
        batch: this.o.cleanupBatch ?? 5000,
        pauseMs: this.o.cleanupPauseMs ?? 50,
        signal,
      });
      if (signal.aborted) return;
      await setVersionState(this.storage, v.id, 'TERMINATED');
      this.o.logger.info(
        { version: v.id, rowsDeleted: deleted, seconds: Number(((performance.now() - started) / 1000).toFixed(2)) },
        'stopped version terminated: slot dropped, storage deleted',
      );
    } finally {
      await lock.client.end().catch(() => {});
    }
  }

  /** Whether the cleanup of `v` waits for processes still reading it (looked at again in 2 s). */
  private async stillRead(v: SyncRulesVersion): Promise<boolean> {
    const { readers, stoppedForSeconds } = await processesReadingVersion(this.storage, v.id, PROCESS_STALE_SECONDS);
    if (readers.length === 0) {
      this.cleanupRetryAt.delete(v.id);
      return false;
    }
    const maxWaitMs = this.o.cleanupReaderWaitMs ?? 600_000;
    if (stoppedForSeconds * 1000 >= maxWaitMs) {
      this.o.logger.warn({ version: v.id, readers, waitedSeconds: Math.round(stoppedForSeconds) }, 'processes still read a stopped version; deleting its data anyway (their streams on it will fail their checksums and reconnect)');
      return false;
    }
    if (!this.cleanupRetryAt.has(v.id)) this.o.logger.info({ version: v.id, readers }, 'cleanup of a stopped version waits until no process reads it');
    this.cleanupRetryAt.set(v.id, Date.now() + 2_000);
    return true;
  }
}
