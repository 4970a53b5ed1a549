/**
 * `useSyncStream`: subscribes to a Sync Stream while the component is mounted (one handle per
 * mounted hook; the client counts handles, and the stream keeps syncing for its TTL after the
 * last one is released) and returns the subscription's live status.
 *
 * @example
 * const { status, hasSynced } = useSyncStream('list_todos', { list: listId }, { ttl: 3600 });
 * const { data } = useQuery('SELECT * FROM todos WHERE list_id = ?', [listId]);
 */
import { useEffect, useState } from 'react';
import type { StreamParameters, SyncStreamStatus, SyncStreamSubscribeOptions, SyncStreamSubscription } from '@syncline/client';
import { useSyncline } from './syncline-context.ts';
import { useStatus } from './use-status.ts';

export interface UseSyncStreamOptions extends SyncStreamSubscribeOptions {
  /** When false nothing is subscribed. Default true. */
  enabled?: boolean;
}

export interface UseSyncStreamResult {
  /** The subscription's status (undefined until the client tracks it). */
  status: SyncStreamStatus | undefined;
  /** A checkpoint covering the subscription has been applied. */
  hasSynced: boolean;
  /** Subscribing failed (e.g. `INVALID_ARGUMENT`, `TOO_MANY_SUBSCRIPTIONS`). */
  error: Error | undefined;
  /** The live handle while mounted and subscribed. */
  subscription: SyncStreamSubscription | undefined;
}

export function useSyncStream(name: string, parameters: StreamParameters = null, options: UseSyncStreamOptions = {}): UseSyncStreamResult {
  const db = useSyncline();
  const status = useStatus();
  const [subscription, setSubscription] = useState<SyncStreamSubscription | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const paramsKey = JSON.stringify(parameters ?? null);
  const enabled = options.enabled ?? true;
  const { ttl, priority } = options;

  useEffect(() => {
    if (!enabled) return;
    let active = true;
    let handle: SyncStreamSubscription | undefined;
    const params = JSON.parse(paramsKey) as StreamParameters;
    db.syncStream(name, params)
      .subscribe({ ...(ttl !== undefined ? { ttl } : {}), ...(priority !== undefined ? { priority } : {}) })
      .then(
        (sub) => {
          handle = sub;
          if (!active) return void sub.unsubscribe();
          setError(undefined);
          setSubscription(sub);
        },
        (e: unknown) => active && setError(e instanceof Error ? e : new Error(String(e))),
      );
    return () => {
      active = false;
      setSubscription(undefined);
      void handle?.unsubscribe();
    };
  }, [db, name, paramsKey, ttl, priority, enabled]);

  const streamStatus = status.forStream({ name, parameters: JSON.parse(paramsKey) as StreamParameters });
  return { status: streamStatus, hasSynced: streamStatus?.subscription.hasSynced === true, error, subscription };
}
