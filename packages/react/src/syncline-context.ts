/**
 * The database the hooks use, provided once near the root of the app with `SynclineProvider`.
 *
 * @example
 * createRoot(el).render(<SynclineProvider db={db}><App /></SynclineProvider>);
 */
import { createContext, createElement, useContext, type ReactNode } from 'react';
import { SynclineError, type SynclineDatabase } from '@syncline/client';

const SynclineContext = createContext<SynclineDatabase | null>(null);

export interface SynclineProviderProps {
  db: SynclineDatabase;
  children?: ReactNode;
}

/** Makes `db` available to `useQuery`, `useStatus`, `useSyncStream` and `useSyncline` below it. */
export function SynclineProvider({ db, children }: SynclineProviderProps): ReactNode {
  return createElement(SynclineContext.Provider, { value: db }, children);
}

/** The database from the nearest `SynclineProvider`; throws `INVALID_ARGUMENT` outside one. */
export function useSyncline(): SynclineDatabase {
  const db = useContext(SynclineContext);
  if (!db) throw new SynclineError('INVALID_ARGUMENT', 'No SynclineProvider above this component: wrap the app in <SynclineProvider db={db}>');
  return db;
}
