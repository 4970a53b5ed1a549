/**
 * `disconnectAndClear()` called in a follower tab runs on the leader (multi-tab mode): only the
 * leader syncs, and clearing the shared database under a leader that keeps syncing would download
 * everything again. The follower asks (`clear`), the leader disconnects and clears for every tab
 * and answers (`cleared`); a request to a leader that went away is answered `gone` when the next
 * leader is known, and the caller asks that one (clearing twice is harmless).
 */
import type { ClearOptions } from '../../db/multi-tab-link.ts';
import { decodeError, encodeError, type WireError } from '../../sync/status-codec.ts';
import type { TabMessage } from './tab-protocol.ts';

type ClearMessage = Extract<TabMessage, { t: 'clear' }>;
type ClearedMessage = Extract<TabMessage, { t: 'cleared' }>;

interface Pending {
  leaderId: string;
  resolve: (outcome: 'done' | 'gone') => void;
  reject: (error: Error) => void;
}

export class ClearRequests {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly tabId: string,
    private readonly post: (m: TabMessage) => void,
  ) {}

  /** Follower: asks leader `leaderId`; `gone` when another tab leads before it answered. */
  ask(leaderId: string, options: ClearOptions): Promise<'done' | 'gone'> {
    const id = globalThis.crypto.randomUUID();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { leaderId, resolve, reject });
      this.post({ t: 'clear', from: this.tabId, to: leaderId, id, clearLocal: options.clearLocal !== false });
    });
  }

  /** Follower: the leader's answer. */
  onCleared(m: ClearedMessage): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.error) p.reject(decodeError(m.error));
    else p.resolve('done');
  }

  /** A new leader: requests to any other tab will not be answered. */
  dropLeader(newLeaderId: string): void {
    for (const [id, p] of this.pending) {
      if (p.leaderId === newLeaderId) continue;
      this.pending.delete(id);
      p.resolve('gone');
    }
  }

  rejectAll(error: Error): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  /** Leader: runs a follower's request with `clear` and answers it. */
  async serve(m: ClearMessage, clear: (options: ClearOptions) => Promise<void>): Promise<void> {
    let error: WireError | undefined;
    try {
      await clear({ clearLocal: m.clearLocal });
    } catch (e) {
      error = encodeError(e);
    }
    this.post({ t: 'cleared', from: this.tabId, to: m.from, id: m.id, ...(error ? { error } : {}) });
  }
}
