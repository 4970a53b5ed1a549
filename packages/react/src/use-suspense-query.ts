/**
 * `useSuspenseQuery`: like `useQuery`, but suspends (throws a promise to the nearest `<Suspense>`)
 * until the first result, and throws query errors of the first run to the nearest error boundary.
 * `data` is always a result; later changes arrive live as with `useQuery`.
 *
 * @example
 * <Suspense fallback={<Spinner />}><TodoList listId={id} /></Suspense>
 * function TodoList({ listId }) { const { data } = useSuspenseQuery<Todo>('SELECT * FROM todos WHERE list_id = ?', [listId]); … }
 */
import { useEffect } from 'react';
import type { SqliteValue, SynclineDatabase } from '@syncline/client';
import { useSyncline } from './syncline-context.ts';
import { queryKey } from './query-key.ts';
import { useLiveQuery, type UseQueryOptions, type UseQueryResult } from './use-query.ts';

type Entry = { status: 'pending'; promise: Promise<void> } | { status: 'done'; data: unknown[] } | { status: 'error'; error: unknown };

/** First results per database and query, kept until a component mounts with them (or 30 s). */
const cache = new WeakMap<SynclineDatabase, Map<string, Entry>>();
const UNCLAIMED_MS = 30_000;

function entryFor<T>(db: SynclineDatabase, key: string, sql: string, params: readonly SqliteValue[]): Entry {
  let byKey = cache.get(db);
  if (!byKey) cache.set(db, (byKey = new Map()));
  const found = byKey.get(key);
  if (found) return found;
  const map = byKey;
  const promise = db.getAll<T>(sql, params).then(
    (data) => void map.set(key, { status: 'done', data }),
    (error: unknown) => void map.set(key, { status: 'error', error }),
  );
  const entry: Entry = { status: 'pending', promise };
  map.set(key, entry);
  // A suspended render that never commits (navigated away) must not pin its rows forever.
  void promise.then(() => setTimeout(() => { if (map.get(key)?.status !== 'pending') map.delete(key); }, UNCLAIMED_MS));
  return entry;
}

export type UseSuspenseQueryResult<T> = Omit<UseQueryResult<T>, 'isLoading'>;

export function useSuspenseQuery<T = Record<string, unknown>>(sql: string, params: readonly SqliteValue[] = [], options: Omit<UseQueryOptions<T>, 'enabled'> = {}): UseSuspenseQueryResult<T> {
  const db = useSyncline();
  const key = queryKey(sql, params);
  const entry = entryFor<T>(db, key, sql, params);
  // Mounted: the live query owns the rows from here on; the cached first result can go.
  useEffect(() => () => void cache.get(db)?.delete(key), [db, key]);
  if (entry.status === 'pending') throw entry.promise;
  if (entry.status === 'error') {
    cache.get(db)?.delete(key);
    throw entry.error;
  }
  const result = useLiveQuery<T>(db, sql, params, options, { key, data: entry.data as T[] });
  // After a param change the live query keeps the old rows; a suspense query shows the new first result.
  const { isLoading: _isLoading, ...rest } = result;
  return rest.isFetching ? { ...rest, data: entry.data as T[], isFetching: false } : rest;
}
