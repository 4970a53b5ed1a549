/**
 * The follower's side of the request relay between tabs (see `tab-protocol.ts`): leases asked of
 * the leader tab and the statements sent on them, matched with the leader's `granted` and `reply`
 * messages. Whatever is pending on a leader that went away fails with {@link LeaderGone}; the
 * coordinator (`multi-tab-adapter.ts`) decides whether it is safe to run again.
 */
import type { QueryResult } from '../../db/sqlite-adapter.ts';
import { ClientErrorCodes, SynclineError, type ClientErrorCode } from '../../errors.ts';
import type { RemoteOp, TabMessage } from './tab-protocol.ts';

export type CallResult = QueryResult | { rowsAffected: number };

/** A lease this tab holds on the leader's connection. */
export interface Lease {
  id: string;
  leaderId: string;
  seq: number;
  broken: boolean;
}

interface PendingCall {
  leaderId: string;
  resolve: (r: CallResult) => void;
  reject: (e: Error) => void;
}

/** Thrown inside a follower when the leader its lease was on went away. */
export class LeaderGone extends Error {
  override name = 'LeaderGone';
}

/** The error an app sees when the leader went away while its transaction ran there (nothing committed). */
export function leaderChanged(cause?: unknown): SynclineError {
  return new SynclineError(
    ClientErrorCodes.TAB_LEADER_CHANGED,
    'The tab that owned the database closed while this transaction ran on it; nothing was committed — run it again',
    { cause },
  );
}

export class FollowerRelay {
  private readonly grants = new Map<string, { leaderId: string; resolve: (granted: boolean) => void }>();
  private readonly calls = new Map<string, PendingCall>();

  /** `changed` collects the tables the leader reports as changed by this tab's calls. */
  constructor(
    private readonly tabId: string,
    private readonly post: (message: TabMessage) => void,
    private readonly changed: Set<string>,
  ) {}

  /** Asks `leaderId` for a lease: the lease once granted, undefined if that leader went away first. */
  async requestLease(leaderId: string): Promise<Lease | undefined> {
    const id = globalThis.crypto.randomUUID();
    const granted = await new Promise<boolean>((resolve) => {
      this.grants.set(id, { leaderId, resolve });
      this.post({ t: 'acquire', from: this.tabId, to: leaderId, lease: id });
    });
    return granted ? { id, leaderId, seq: 0, broken: false } : undefined;
  }

  /** Runs `op` on the leader under `lease`. */
  call(lease: Lease, op: RemoteOp): Promise<CallResult> {
    if (lease.broken) return Promise.reject(new LeaderGone('leader changed'));
    const seq = ++lease.seq;
    return new Promise((resolve, reject) => {
      this.calls.set(`${lease.id}:${seq}`, { leaderId: lease.leaderId, resolve, reject });
      this.post({ t: 'call', from: this.tabId, to: lease.leaderId, lease: lease.id, seq, op });
    });
  }

  onGranted(m: Extract<TabMessage, { t: 'granted' }>): void {
    const g = this.grants.get(m.lease);
    this.grants.delete(m.lease);
    if (g && g.leaderId === m.from) g.resolve(true);
    else this.post({ t: 'release', from: this.tabId, to: m.from, lease: m.lease }); // nobody waits for it any more
  }

  onReply(m: Extract<TabMessage, { t: 'reply' }>): void {
    const key = `${m.lease}:${m.seq}`;
    const c = this.calls.get(key);
    this.calls.delete(key);
    if (!c) return;
    if (m.ok) {
      for (const t of m.changed) this.changed.add(t);
      c.resolve(m.result);
    } else if (m.error.name === 'LeaseLost') {
      c.reject(new LeaderGone(m.error.message));
    } else if (m.error.code !== undefined && Object.hasOwn(ClientErrorCodes, m.error.code)) {
      c.reject(new SynclineError(m.error.code as ClientErrorCode, m.error.message));
    } else {
      const error = new Error(m.error.message);
      error.name = m.error.name;
      c.reject(error);
    }
  }

  /** A new leader: lease requests and calls pending on any other leader fail (retried by the callers). */
  dropLeader(newLeaderId: string): void {
    for (const [id, g] of this.grants) {
      if (g.leaderId !== newLeaderId) {
        this.grants.delete(id);
        g.resolve(false);
      }
    }
    for (const [key, c] of this.calls) {
      if (c.leaderId !== newLeaderId) {
        this.calls.delete(key);
        c.reject(new LeaderGone('leader changed'));
      }
    }
  }

  /** Fails every call in flight with `error` (this tab is closing or could not take over). */
  rejectAll(error: Error): void {
    for (const c of this.calls.values()) c.reject(error);
    this.calls.clear();
  }
}
