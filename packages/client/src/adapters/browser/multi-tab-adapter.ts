/**
 * Multi-tab mode of the browser adapter: one tab per database file — the leader, elected with a
 * Web Lock — opens the SQLite worker and runs sync and uploads; every other tab (a follower)
 * runs its statements on the leader over a BroadcastChannel (see `tab-protocol.ts`) and mirrors
 * the leader's sync status and change notifications. When the leader tab closes or crashes, the
 * next tab waiting for the lock opens the database (waiting for the OPFS pool to be released)
 * and takes over.
 *
 * A follower's statement in flight when the leader goes away never applies twice: a follower's
 * COMMIT records a marker row in the same transaction, and the follower asks the new leader
 * whether the marker exists — committed (the call succeeds) or not (`TAB_LEADER_CHANGED`, safe
 * to run again).
 *
 * Parts: the leader answers followers in `tab-lease-server.ts`; a follower's lease requests and
 * calls on the leader are matched with the answers in `tab-follower-relay.ts`; this file holds the
 * election, the roles and the `SqliteAdapter`/`MultiTabLink` faces.
 */
import { Mutex } from '../../db/mutex.ts';
import type { ClearOptions, MultiTabEvents, MultiTabLink, TabRole } from '../../db/multi-tab-link.ts';
import type { QueryResult, SqliteValue } from '../../db/sqlite-adapter.ts';
import { ClientErrorCodes, SynclineError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import { decodeStatus, encodeStatus, type WireStatus } from '../../sync/status-codec.ts';
import type { SyncStatus } from '../../sync/sync-status.ts';
import { ClearRequests } from './tab-clear-requests.ts';
import { FollowerRelay, LeaderGone, leaderChanged, type CallResult, type Lease } from './tab-follower-relay.ts';
import { FollowerStreams } from './tab-follower-streams.ts';
import { LeaseServer } from './tab-lease-server.ts';
import { holdLock } from './web-locks.ts';
import { channelName, COMMITS_TABLE_DDL, leaderLockName, tabLockName, type RemoteOp, type TabMessage } from './tab-protocol.ts';
import type { WasmSqliteAdapter } from './wasm-sqlite-adapter.ts';
import type { WasmVfs } from './worker-protocol.ts';

type Vfs = Exclude<WasmVfs, 'auto'>;
type OpenLocal = (vfs: WasmVfs) => Promise<WasmSqliteAdapter>;

/** How long a new tab waits for the current leader to answer before giving up. */
const LEADER_ANSWER_MS = 15_000;

export class TabCoordinator implements MultiTabLink {
  readonly tabId = globalThis.crypto.randomUUID();
  role: TabRole = 'follower';
  private readonly mutex = new Mutex();
  private readonly channel: BroadcastChannel;
  private readonly listeners = new Set<MultiTabEvents>();
  private readonly abort = new AbortController();
  private readonly releases: (() => void)[] = [];
  private readonly server: LeaseServer;
  private local: WasmSqliteAdapter | undefined;
  private localReady: Promise<void> | undefined;
  private leader: { id: string; vfs: Vfs } | undefined;
  private leaderWaiters: (() => void)[] = [];
  private readonly relay: FollowerRelay;
  private lease: Lease | undefined;
  private readonly changed = new Set<string>();
  private lastStatus: WireStatus | undefined;
  /** Follower: the stream subscriptions this tab holds (sent to every new leader). */
  private heldStreams: string[] = [];
  /** Leader: the stream subscriptions the followers hold. */
  private readonly followerStreams: FollowerStreams;
  private readonly clears: ClearRequests;
  private closed = false;

  constructor(
    private readonly filename: string,
    private readonly requestedVfs: WasmVfs,
    private readonly logger: Logger,
    private readonly openLocal: OpenLocal,
  ) {
    this.channel = new BroadcastChannel(channelName(filename));
    this.channel.onmessage = (event: MessageEvent<TabMessage>) => this.onMessage(event.data);
    this.relay = new FollowerRelay(this.tabId, (m) => this.post(m), this.changed);
    this.server = new LeaseServer({
      filename,
      tabId: this.tabId,
      mutex: this.mutex,
      local: () => this.requireLocal(),
      post: (m) => this.post(m),
      onChanges: (tables, origin) => {
        this.post({ t: 'changes', from: this.tabId, origin, tables: [...tables] });
        for (const l of [...this.listeners]) l.changes(tables);
      },
      isClosed: () => this.closed,
    });
    this.clears = new ClearRequests(this.tabId, (m) => this.post(m));
    this.followerStreams = new FollowerStreams(filename, (keys) => {
      for (const l of [...this.listeners]) l.streams?.(keys);
    });
  }

  get vfs(): Vfs {
    return this.local?.vfs ?? this.leader?.vfs ?? 'memory';
  }

  /** Joins the election; resolves once this tab is the leader (database open) or knows one. */
  async start(): Promise<void> {
    const tabLock = holdLock(tabLockName(this.filename, this.tabId), { mode: 'exclusive' });
    this.releases.push(tabLock.release);
    await tabLock.granted;
    const first = holdLock(leaderLockName(this.filename), { mode: 'exclusive', ifAvailable: true });
    if (await first.granted) {
      this.releases.push(first.release);
      await this.becomeLeader(false);
      return;
    }
    // Queue for the lock: granted when the leader tab closes or crashes.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    this.releases.push(() => release());
    navigator.locks
      .request(leaderLockName(this.filename), { mode: 'exclusive', signal: this.abort.signal }, async () => {
        if (this.closed) return;
        await this.becomeLeader(true).catch((e: unknown) => this.fail(e));
        await held;
      })
      .catch(() => undefined);
    this.post({ t: 'hello', from: this.tabId });
    const known = this.whenLeaderKnown();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SynclineError(ClientErrorCodes.ADAPTER_ERROR, `No leader tab answered for "${this.filename}" within ${LEADER_ANSWER_MS} ms`)), LEADER_ANSWER_MS);
    });
    try {
      await Promise.race([known, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async becomeLeader(promoted: boolean): Promise<void> {
    this.role = 'leader';
    const started = Date.now();
    this.logger.info(promoted ? 'Leader lock granted: taking over the database' : 'Leader lock granted: opening the database', { tabId: this.tabId });
    const previous = this.leader;
    this.leader = { id: this.tabId, vfs: previous?.vfs ?? 'memory' };
    if (promoted) this.lastStatus = undefined; // the old leader's; this tab publishes its own
    this.localReady = (async () => {
      this.local = await this.openLocal(previous?.vfs ?? this.requestedVfs);
      await this.local.execute(COMMITS_TABLE_DDL);
      this.leader = { id: this.tabId, vfs: this.local.vfs };
    })();
    // Work in flight on the old leader is void now (committed or not: see `committed()`).
    this.dropLeader(this.tabId);
    await this.localReady;
    this.logger.info('Database open in this tab (leader)', { tabId: this.tabId, vfs: this.local!.vfs, openMs: Date.now() - started, poolWaitMs: this.local!.poolWaitMs });
    this.post({ t: 'leader', from: this.tabId, vfs: this.local!.vfs, status: this.lastStatus });
    if (promoted) for (const l of [...this.listeners]) l.promoted();
  }

  private fail(e: unknown): void {
    // The database could not be opened in this tab after the leader left; nothing can proceed.
    this.logger.error('Taking over the database failed', { tabId: this.tabId, message: String(e) });
    this.closed = true;
    const error = new SynclineError(ClientErrorCodes.ADAPTER_ERROR, `Taking over the database "${this.filename}" failed: ${String(e)}`, { cause: e });
    this.relay.rejectAll(error);
    this.clears.rejectAll(error);
    this.shutdown();
  }

  private requireLocal(): WasmSqliteAdapter {
    if (!this.local) throw new SynclineError(ClientErrorCodes.ADAPTER_ERROR, 'The database is not open in this tab');
    return this.local;
  }

  private post(message: TabMessage): void {
    try {
      this.channel.postMessage(message);
    } catch {
      // the channel is closed: this tab is shutting down
    }
  }

  private whenLeaderKnown(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.leader && (this.leader.id !== this.tabId || this.local)) return Promise.resolve();
    if (this.role === 'leader') return this.localReady ?? Promise.resolve();
    return new Promise((resolve) => this.leaderWaiters.push(resolve));
  }

  /** A new leader: everything pending on any other leader fails (retried by the callers). */
  private dropLeader(newLeaderId: string): void {
    this.relay.dropLeader(newLeaderId);
    this.clears.dropLeader(newLeaderId);
    if (this.lease && this.lease.leaderId !== newLeaderId) this.lease.broken = true;
    const waiters = this.leaderWaiters;
    this.leaderWaiters = [];
    for (const w of waiters) w();
  }

  private onMessage(m: TabMessage): void {
    if (m.from === this.tabId) return;
    if ('to' in m && m.to !== this.tabId) return;
    switch (m.t) {
      case 'hello':
        if (this.role === 'leader' && this.local) this.post({ t: 'leader', from: this.tabId, vfs: this.local.vfs, status: this.lastStatus });
        break;
      case 'leader':
        if (this.role === 'leader') break; // cannot happen while we hold the Web Lock
        if (this.leader?.id !== m.from) {
          this.leader = { id: m.from, vfs: m.vfs };
          this.dropLeader(m.from);
          if (this.heldStreams.length > 0) this.sendStreams();
        }
        if (m.status) this.emitStatus(m.status);
        break;
      case 'status':
        if (this.role === 'follower') this.emitStatus(m.status);
        break;
      case 'changes':
        if (this.role === 'follower' && m.origin !== this.tabId) {
          const tables = new Set(m.tables);
          for (const l of [...this.listeners]) l.changes(tables);
        }
        break;
      case 'streams':
        if (this.role === 'leader' && Array.isArray(m.keys)) this.followerStreams.set(m.from, m.keys.filter((k) => typeof k === 'string'));
        break;
      case 'clear':
        if (this.role === 'leader') void this.clears.serve(m, (options) => this.clearHere(options));
        break;
      case 'cleared':
        this.clears.onCleared(m);
        break;
      case 'acquire':
        if (this.role === 'leader') this.server.acquire(m.from, m.lease);
        break;
      case 'release':
        if (this.role === 'leader') this.server.release(m.lease);
        break;
      case 'call':
        if (this.role === 'leader') this.server.call(m.from, m.lease, m.seq, m.op);
        break;
      case 'granted':
        this.relay.onGranted(m);
        break;
      case 'reply':
        this.relay.onReply(m);
        break;
    }
  }

  private emitStatus(wire: WireStatus): void {
    this.lastStatus = wire;
    const status = decodeStatus(wire);
    for (const l of [...this.listeners]) l.status(status);
  }

  // ---- MultiTabLink ---------------------------------------------------------------------------

  subscribe(events: MultiTabEvents): () => void {
    this.listeners.add(events);
    // The leader's status may have arrived before this subscriber (it comes with the handshake).
    if (this.role === 'follower' && this.lastStatus) events.status(decodeStatus(this.lastStatus));
    // Likewise the followers' stream subscriptions, on a leader.
    const held = this.followerStreams.union();
    if (this.role === 'leader' && held.size > 0) events.streams?.(held);
    return () => this.listeners.delete(events);
  }

  publishChanges(tables: ReadonlySet<string>): void {
    if (this.role === 'leader') this.post({ t: 'changes', from: this.tabId, origin: this.tabId, tables: [...tables] });
  }

  publishStatus(status: SyncStatus): void {
    if (this.role !== 'leader') return;
    this.lastStatus = encodeStatus(status);
    this.post({ t: 'status', from: this.tabId, status: this.lastStatus });
  }

  publishStreams(keys: readonly string[]): void {
    if (this.role !== 'follower') return;
    this.heldStreams = [...keys];
    this.sendStreams();
  }

  private sendStreams(): void {
    if (this.role === 'follower' && this.leader && this.leader.id !== this.tabId) this.post({ t: 'streams', from: this.tabId, to: this.leader.id, keys: this.heldStreams });
  }

  async clearOnLeader(options: ClearOptions): Promise<boolean> {
    for (;;) {
      await this.whenLeaderKnown();
      if (this.closed) throw new SynclineError(ClientErrorCodes.DATABASE_CLOSED, 'The database is closed');
      if (this.role === 'leader') return false;
      if ((await this.clears.ask(this.leader!.id, options)) === 'done') return true;
    }
  }

  /** Leader: a follower's `disconnectAndClear()`, run by this tab's database. */
  private async clearHere(options: ClearOptions): Promise<void> {
    const handlers = [...this.listeners].filter((l) => l.clearRequested);
    if (handlers.length === 0) throw new SynclineError(ClientErrorCodes.ADAPTER_ERROR, 'No database is open on the leader tab');
    for (const l of handlers) await l.clearRequested!(options);
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      if (this.closed) throw new SynclineError(ClientErrorCodes.DATABASE_CLOSED, 'The database is closed');
      if (this.role === 'leader') {
        await this.localReady;
        return fn();
      }
      const lease = await this.acquire();
      if (!lease) return fn(); // became the leader while waiting
      this.lease = lease;
      try {
        return await fn();
      } catch (e) {
        throw lease.broken ? leaderChanged(e) : e;
      } finally {
        this.lease = undefined;
        if (!lease.broken) this.post({ t: 'release', from: this.tabId, to: lease.leaderId, lease: lease.id });
      }
    });
  }

  /** A lease on the current leader (retried across leader changes); undefined once this tab leads. */
  private async acquire(): Promise<Lease | undefined> {
    for (;;) {
      await this.whenLeaderKnown();
      if (this.closed) throw new SynclineError(ClientErrorCodes.DATABASE_CLOSED, 'The database is closed');
      if (this.role === 'leader') {
        await this.localReady;
        return undefined;
      }
      const lease = await this.relay.requestLease(this.leader!.id);
      if (lease) return lease;
    }
  }

  /** Runs `op` here (leader, or a follower outside a lease: a lease of its own) or on the leader. */
  private async run(op: RemoteOp, local: () => Promise<CallResult>): Promise<CallResult> {
    const lease = this.lease;
    if (!lease) {
      if (this.role === 'leader') return local();
      return this.exclusive(() => this.run(op, local));
    }
    try {
      return await this.relay.call(lease, op);
    } catch (e) {
      if (!(e instanceof LeaderGone)) throw e;
      lease.broken = true;
      if (op.kind === 'commit' && (await this.committed(op.marker))) return { rows: [], rowsAffected: 0, insertId: undefined };
      throw leaderChanged(e);
    }
  }

  /** Whether the follower transaction tagged `marker` committed (asked of the current leader). */
  private async committed(marker: string): Promise<boolean> {
    const sql = `SELECT 1 AS found FROM sl_tab_commits WHERE id = ?`;
    for (let attempt = 0; attempt < 5; attempt++) {
      const lease = await this.acquire();
      if (!lease) return (await this.requireLocal().execute(sql, [marker])).rows.length > 0;
      try {
        const result = (await this.relay.call(lease, { kind: 'execute', sql, params: [marker] })) as QueryResult;
        return result.rows.length > 0;
      } catch (e) {
        if (!(e instanceof LeaderGone)) throw e;
      } finally {
        this.post({ t: 'release', from: this.tabId, to: lease.leaderId, lease: lease.id });
      }
    }
    throw new SynclineError(ClientErrorCodes.ADAPTER_ERROR, 'Could not learn whether a transaction committed: the leader tab kept changing');
  }

  // ---- SqliteAdapter --------------------------------------------------------------------------

  execute(sql: string, params: readonly SqliteValue[] = []): Promise<QueryResult> {
    const op: RemoteOp = /^\s*COMMIT\s*;?\s*$/i.test(sql) && params.length === 0 ? { kind: 'commit', marker: globalThis.crypto.randomUUID() } : { kind: 'execute', sql, params: [...params] };
    return this.run(op, () => this.requireLocal().execute(sql, params)) as Promise<QueryResult>;
  }

  executeBatch(sql: string, paramSets: readonly (readonly SqliteValue[])[]): Promise<{ rowsAffected: number }> {
    return this.run({ kind: 'batch', sql, paramSets: paramSets.map((p) => [...p]) }, () => this.requireLocal().executeBatch(sql, paramSets));
  }

  async takeChangedTables(): Promise<string[]> {
    if (this.role === 'leader' && !this.lease) return this.requireLocal().takeChangedTables();
    const out = [...this.changed];
    this.changed.clear();
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.mutex.run(async () => {
      this.closed = true;
      await this.local?.close();
    });
    const closed = new SynclineError(ClientErrorCodes.DATABASE_CLOSED, 'The database is closed');
    this.relay.rejectAll(closed);
    this.clears.rejectAll(closed);
    this.shutdown();
  }

  /** Leaves the election (another tab may lead now) and the channel. */
  private shutdown(): void {
    this.abort.abort();
    this.followerStreams.close();
    for (const release of this.releases) release();
    for (const w of this.leaderWaiters) w();
    this.leaderWaiters = [];
    this.channel.close();
  }
}
