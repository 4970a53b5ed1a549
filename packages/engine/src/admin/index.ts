/**
 * Engine-side services of the admin API (no HTTP, no tRPC): version history and diff, impact
 * preview, per-user inspection, row explanations, checksum verification, connections, health.
 */
export * from './admin-deps.ts';
export * from './line-diff.ts';
export * from './version-history.ts';
export * from './source-rows.ts';
export * from './impact-preview.ts';
export * from './sync-rules-text.ts';
export * from './user-inspection.ts';
export * from './row-explain.ts';
export * from './row-verdict.ts';
export * from '../storage/pg-verification-runs.ts';
export * from './verification-job.ts';
export * from './connections-admin.ts';
export * from './replication-health.ts';
export * from './cluster-view.ts';
export * from './cluster-admin.ts';
