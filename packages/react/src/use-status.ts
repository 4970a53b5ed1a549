/**
 * `useStatus`: the client's sync status (`connected`, `downloading`, `hasSynced`, `downloadError`,
 * per-stream status …), re-rendering when it changes.
 *
 * @example
 * const { connected, hasSynced } = useStatus();
 */
import { useCallback, useSyncExternalStore } from 'react';
import type { SyncStatus } from '@syncline/client';
import { useSyncline } from './syncline-context.ts';

export function useStatus(): SyncStatus {
  const db = useSyncline();
  const subscribe = useCallback((onChange: () => void) => db.onStatusChanged(onChange), [db]);
  const get = useCallback(() => db.currentStatus, [db]);
  return useSyncExternalStore(subscribe, get, get);
}
