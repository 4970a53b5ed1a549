/**
 * What every admin procedure receives. The serving process (sync-api) builds it per request:
 * `isAdmin` is the result of its admin-token check; `mintDevToken` is injected because token
 * signing lives in the app (this package must not import it).
 */
import type { AdminDeps, Compactor, SourceSchema, VerificationRunner } from '@syncline/engine';

/** What the compaction procedures need of the serving process's Compactor. */
export type AdminCompactor = Pick<Compactor, 'compactNow' | 'defragment' | 'getStatus'>;

export interface AdminContext {
  deps: AdminDeps;
  verification: VerificationRunner;
  /** The process's scheduled Compactor (unified/replicator runners); null: compaction runs directly in the request. */
  compactor: AdminCompactor | null;
  /** True when the request carried a valid `Authorization: Bearer <ADMIN_TOKEN>`. */
  isAdmin: boolean;
  /** DEV_MODE: dev tokens may be minted. */
  devMode: boolean;
  mintDevToken: ((userId: string, opts: { ttlSeconds?: number; claims?: Record<string, unknown> }) => Promise<{ token: string; expiresAt: number }>) | null;
  /** Source schema for schema-aware validation (cached by the caller; may be null). */
  sourceSchema: () => Promise<SourceSchema | null>;
}
