/**
 * SQL over `sl_stream_subscriptions`: subscribe/release/clear, request assembly (extend live
 * subscriptions, expire the rest, list what to send) and per-checkpoint reconciliation.
 */
import type { DatabaseInternals } from '../db/syncline-database.ts';
import { ClientErrorCodes, SynclineError } from '../errors.ts';
import type { SqliteAdapter, SqliteRow } from '../db/sqlite-adapter.ts';
import type { StreamInfo } from '../sync/sync-lines.ts';
import { longerTtl, higherPriority } from './stream-key.ts';
import { rowKey, type SubscriptionRow } from './stream-status.ts';

/**
 * When a subscription stops being explicit its data is about to be deleted, so it no longer counts
 * as synced (a re-subscription must wait for a new checkpoint); a default stream's own row keeps it.
 */
const FORGET_SYNC = `last_synced_at = CASE WHEN is_default = 1 AND params = 'null' THEN last_synced_at ELSE NULL END`;

/** The most subscriptions one sync request may carry (the service answers 400 beyond it). */
export const MAX_SUBSCRIPTIONS = 1_000;

const COLUMNS = `id, stream_name, params, explicit, ttl_ms, expires_at, local_priority, active, is_default, last_synced_at`;

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function toRow(r: SqliteRow): SubscriptionRow {
  return {
    id: Number(r['id']),
    name: String(r['stream_name']),
    params: String(r['params']),
    explicit: Number(r['explicit']) === 1,
    ttlMs: num(r['ttl_ms']),
    expiresAt: num(r['expires_at']),
    localPriority: num(r['local_priority']),
    active: Number(r['active']) === 1,
    isDefault: Number(r['is_default']) === 1,
    lastSyncedAt: num(r['last_synced_at']),
  };
}

async function select(a: SqliteAdapter, where = '', params: (string | number)[] = []): Promise<SubscriptionRow[]> {
  const { rows } = await a.execute(`SELECT ${COLUMNS} FROM sl_stream_subscriptions ${where} ORDER BY id`, params);
  return rows.map(toRow);
}

export class SubscriptionStore {
  constructor(private readonly db: DatabaseInternals) {}

  load(): Promise<SubscriptionRow[]> {
    return this.db.read((a) => select(a));
  }

  /**
   * Makes (name, params) explicit. The TTL becomes the longest requested while the subscription
   * lives (not the last call's); the priority override the most urgent one requested.
   */
  async subscribe(name: string, params: string, ttlMs: number | null, priority: number | null, now: number, live: ReadonlySet<string>): Promise<void> {
    await this.db.write(async (a) => {
      const [existing] = await select(a, 'WHERE stream_name = ? AND params = ?', [name, params]);
      if (!existing?.explicit) {
        const requested = (await select(a, 'WHERE explicit = 1')).filter((r) => r.expiresAt === null || r.expiresAt > now || live.has(rowKey(r)));
        if (requested.length >= MAX_SUBSCRIPTIONS) {
          throw new SynclineError(
            ClientErrorCodes.TOO_MANY_SUBSCRIPTIONS,
            `Cannot subscribe to ${name}: ${requested.length} stream subscriptions are already requested, and a sync request carries at most ${MAX_SUBSCRIPTIONS}. Unsubscribe (or unsubscribeAll) some first.`,
          );
        }
      }
      const ttl = existing?.explicit ? longerTtl(existing.ttlMs, ttlMs) : ttlMs;
      const prio = existing?.explicit ? higherPriority(existing.localPriority, priority) : priority;
      const expiresAt = ttl === null ? null : now + ttl;
      await a.execute(
        `INSERT INTO sl_stream_subscriptions (stream_name, params, explicit, ttl_ms, expires_at, local_priority) VALUES (?, ?, 1, ?, ?, ?)
         ON CONFLICT (stream_name, params) DO UPDATE SET explicit = 1, ttl_ms = excluded.ttl_ms, expires_at = excluded.expires_at, local_priority = excluded.local_priority`,
        [name, params, ttl, expiresAt, prio],
      );
    });
  }

  /** The last handle was released: the TTL starts now. */
  async release(name: string, params: string, now: number): Promise<void> {
    await this.db.write(async (a) => {
      await a.execute(
        `UPDATE sl_stream_subscriptions SET expires_at = CASE WHEN ttl_ms IS NULL THEN NULL ELSE ? + ttl_ms END WHERE stream_name = ? AND params = ? AND explicit = 1`,
        [now, name, params],
      );
    });
  }

  /** Drops the explicit subscription at once (whatever handles or TTL remain). */
  async clearExplicit(name: string, params: string): Promise<void> {
    await this.db.write(async (a) => {
      await a.execute(`UPDATE sl_stream_subscriptions SET explicit = 0, ttl_ms = NULL, expires_at = NULL, local_priority = NULL, ${FORGET_SYNC} WHERE stream_name = ? AND params = ?`, [
        name,
        params,
      ]);
      await a.execute(`DELETE FROM sl_stream_subscriptions WHERE stream_name = ? AND params = ? AND explicit = 0 AND active = 0`, [name, params]);
    });
  }

  /**
   * Request assembly: live subscriptions' expiry moves to now + TTL, expired ones stop being
   * explicit, rows neither explicit nor active are deleted. Returns the explicit rows (id order),
   * which are exactly the subscriptions to send.
   */
  async prepareRequest(live: ReadonlySet<string>, now: number): Promise<SubscriptionRow[]> {
    return this.db.write(async (a) => {
      const explicit = await select(a, 'WHERE explicit = 1');
      const extend = explicit.filter((r) => live.has(rowKey(r)) && r.ttlMs !== null);
      if (extend.length > 0) {
        await a.executeBatch(`UPDATE sl_stream_subscriptions SET expires_at = ? + ttl_ms WHERE id = ?`, extend.map((r) => [now, r.id]));
      }
      const expired = explicit.filter((r) => !live.has(rowKey(r)) && r.expiresAt !== null && r.expiresAt <= now);
      if (expired.length > 0) {
        await a.executeBatch(
          `UPDATE sl_stream_subscriptions SET explicit = 0, ttl_ms = NULL, expires_at = NULL, local_priority = NULL, ${FORGET_SYNC} WHERE id = ?`,
          expired.map((r) => [r.id]),
        );
      }
      await a.execute(`DELETE FROM sl_stream_subscriptions WHERE explicit = 0 AND active = 0`);
      return select(a, 'WHERE explicit = 1');
    });
  }

  /**
   * Reconciles with a connection's `checkpoint.streams` (§5.4): only listed streams are active,
   * `is_default` copied, a parameterless row created for each default stream, and rows neither
   * explicit nor listed deleted.
   */
  async reconcile(streams: readonly StreamInfo[], includeDefaults: boolean): Promise<void> {
    await this.db.write(async (a) => {
      await a.execute(`UPDATE sl_stream_subscriptions SET active = 0`);
      for (const s of streams) {
        // Explicit rows, and the parameterless row of an included default stream; an expired
        // subscription of a listed stream is not revived.
        await a.execute(
          `UPDATE sl_stream_subscriptions SET active = 1, is_default = ? WHERE stream_name = ? AND (explicit = 1 OR (params = 'null' AND ? = 1))`,
          [s.isDefault ? 1 : 0, s.name, s.isDefault && includeDefaults ? 1 : 0],
        );
        if (s.isDefault && includeDefaults) {
          await a.execute(`INSERT OR IGNORE INTO sl_stream_subscriptions (stream_name, params, active, is_default) VALUES (?, 'null', 1, 1)`, [s.name]);
        }
      }
      await a.execute(`DELETE FROM sl_stream_subscriptions WHERE explicit = 0 AND active = 0`);
    });
  }

  /** Records an applied checkpoint for the given subscription keys. */
  async markSynced(keys: ReadonlySet<string>, now: number): Promise<void> {
    if (keys.size === 0) return;
    await this.db.write(async (a) => {
      const rows = (await select(a)).filter((r) => keys.has(rowKey(r)));
      if (rows.length > 0) await a.executeBatch(`UPDATE sl_stream_subscriptions SET last_synced_at = ? WHERE id = ?`, rows.map((r) => [now, r.id]));
    });
  }

  /** After a clear: explicit subscriptions stay (the app still holds them); server state is forgotten. */
  async forgetServerState(a: SqliteAdapter): Promise<void> {
    await a.execute(`DELETE FROM sl_stream_subscriptions WHERE explicit = 0`);
    await a.execute(`UPDATE sl_stream_subscriptions SET active = 0, is_default = 0, last_synced_at = NULL`);
  }
}
