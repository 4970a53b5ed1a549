/**
 * TEMPORARY stand-in for `@syncline/react` until that package lands on main (same API:
 * SynclineProvider, useSynclineDatabase, useQuery, useStatus). Delete this file and import from
 * '@syncline/react' once it exists.
 */
import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { SqliteValue, SyncStatus, SynclineDatabase } from '@syncline/client';

const DbContext = createContext<SynclineDatabase | null>(null);

export function SynclineProvider({ db, children }: { db: SynclineDatabase; children: ReactNode }) {
  return <DbContext.Provider value={db}>{children}</DbContext.Provider>;
}

export function useSynclineDatabase(): SynclineDatabase {
  const db = useContext(DbContext);
  if (!db) throw new Error('useSynclineDatabase: wrap the app in <SynclineProvider db={...}>.');
  return db;
}

export interface QueryResult<T> {
  data: T[];
  isLoading: boolean;
  error: Error | undefined;
}

/** Live query: re-runs when a table it reads changes. */
export function useQuery<T>(sql: string, params: readonly SqliteValue[] = []): QueryResult<T> {
  const db = useSynclineDatabase();
  const key = JSON.stringify(params);
  const [state, setState] = useState<QueryResult<T>>({ data: [], isLoading: true, error: undefined });
  useEffect(() => {
    const stop = db.watch<T>(sql, JSON.parse(key) as SqliteValue[], {
      onResult: (rows) => setState({ data: rows, isLoading: false, error: undefined }),
      onError: (e) => setState((s) => ({ ...s, isLoading: false, error: e instanceof Error ? e : new Error(String(e)) })),
    });
    return stop;
  }, [db, sql, key]);
  return state;
}

export function useStatus(): SyncStatus {
  const db = useSynclineDatabase();
  return useSyncExternalStore(
    (cb) => db.onStatusChanged(cb),
    () => db.currentStatus,
  );
}
