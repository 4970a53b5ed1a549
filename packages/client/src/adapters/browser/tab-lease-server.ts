/**
 * The leader tab's side of follower leases: a follower's `acquire` takes the leader's connection
 * lock (the same mutex the leader's own `SynclineDatabase` uses) until the follower releases it,
 * dies (its tab lock becomes free) or stays silent for {@link LEASE_IDLE_MS}; an unfinished
 * transaction is then rolled back. Statements of one lease run in order on the local database.
 */
import type { Mutex } from '../../db/mutex.ts';
import type { QueryResult, SqliteAdapter } from '../../db/sqlite-adapter.ts';
import { encodeError } from '../../sync/status-codec.ts';
import { COMMIT_MARKER_TTL_MS, tabLockName, type RemoteOp, type TabMessage } from './tab-protocol.ts';

/** A lease with no message for this long is ended (its transaction rolled back). */
export const LEASE_IDLE_MS = 30_000;

interface Served {
  from: string;
  lastActive: number;
  inTransaction: boolean;
  queue: Promise<void>;
  changed: Set<string>;
  end: () => void;
}

export interface LeaseServerDeps {
  filename: string;
  tabId: string;
  mutex: Mutex;
  /** The open local database (the leader's worker). */
  local: () => SqliteAdapter;
  post: (message: TabMessage) => void;
  /** Tables a follower's lease changed, after the lease ended. */
  onChanges: (tables: ReadonlySet<string>, origin: string) => void;
  isClosed: () => boolean;
}

export class LeaseServer {
  private readonly served = new Map<string, Served>();

  constructor(private readonly deps: LeaseServerDeps) {}

  acquire(from: string, lease: string): void {
    void this.deps.mutex
      .run(() => this.serve(from, lease))
      .then((changed) => {
        if (changed && changed.size > 0) this.deps.onChanges(changed, from);
      });
  }

  /** Holds the connection lock for one lease; returns the tables it changed. */
  private async serve(from: string, lease: string): Promise<Set<string> | undefined> {
    const { deps } = this;
    if (deps.isClosed()) return undefined;
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const served: Served = { from, lastActive: Date.now(), inTransaction: false, queue: Promise.resolve(), changed: new Set(), end };
    this.served.set(lease, served);
    const watch = new AbortController();
    // Granted once the follower's tab is gone (it holds this lock for its whole life).
    navigator.locks.request(tabLockName(deps.filename, from), { signal: watch.signal }, () => end()).catch(() => undefined);
    const idle = setInterval(() => {
      if (Date.now() - served.lastActive > LEASE_IDLE_MS || deps.isClosed()) end();
    }, 1_000);
    deps.post({ t: 'granted', from: deps.tabId, to: from, lease });
    try {
      await ended;
    } finally {
      clearInterval(idle);
      watch.abort();
      this.served.delete(lease);
    }
    await served.queue;
    if (served.inTransaction) await deps.local().execute('ROLLBACK').catch(() => undefined);
    for (const t of await deps.local().takeChangedTables()) served.changed.add(t);
    return served.changed;
  }

  release(lease: string): void {
    this.served.get(lease)?.end();
  }

  call(from: string, lease: string, seq: number, op: RemoteOp): void {
    const { deps } = this;
    const served = this.served.get(lease);
    if (!served || served.from !== from) {
      deps.post({ t: 'reply', from: deps.tabId, to: from, lease, seq, ok: false, error: { name: 'LeaseLost', message: 'The lease ended (idle or leader closing)' } });
      return;
    }
    served.lastActive = Date.now();
    served.queue = served.queue.then(async () => {
      try {
        const result = await this.run(served, op);
        const changed = await deps.local().takeChangedTables();
        for (const t of changed) served.changed.add(t);
        deps.post({ t: 'reply', from: deps.tabId, to: from, lease, seq, ok: true, result, changed });
      } catch (e) {
        // A SynclineError's code (e.g. STORAGE_FULL) reaches the follower, which rebuilds the error.
        deps.post({ t: 'reply', from: deps.tabId, to: from, lease, seq, ok: false, error: encodeError(e) });
      }
      served.lastActive = Date.now();
    });
  }

  private async run(served: Served, op: RemoteOp): Promise<QueryResult | { rowsAffected: number }> {
    const local = this.deps.local();
    switch (op.kind) {
      case 'execute': {
        const result = await local.execute(op.sql, op.params);
        if (/^\s*BEGIN\b/i.test(op.sql)) served.inTransaction = true;
        else if (/^\s*(ROLLBACK|END)\b/i.test(op.sql)) served.inTransaction = false;
        return result;
      }
      case 'batch':
        return local.executeBatch(op.sql, op.paramSets);
      case 'commit': {
        const now = Date.now();
        await local.execute(`INSERT INTO sl_tab_commits (id, at) VALUES (?, ?)`, [op.marker, now]);
        await local.execute(`DELETE FROM sl_tab_commits WHERE at < ?`, [now - COMMIT_MARKER_TTL_MS]);
        const result = await local.execute('COMMIT');
        served.inTransaction = false;
        return result;
      }
    }
  }
}
