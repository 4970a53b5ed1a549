/**
 * Sync rules engine (pure: no I/O). Public API:
 * - `compileSyncRules(yaml, options)` → `{ rules, issues }`;
 * - `SyncRules`: `sourceTables`, `tableMatches`, `evaluateRow`, `evaluateParameterRow`,
 *   `createQuerier`, `valueOptions`, `definitions` (bucket definitions), `streams` (Sync Streams);
 * - Postgres text → SQLite values: `pgTextToSqlite`, `pgRowToSqlite`;
 * - errors: `TooManyBucketsError`, `ValueMappingError`; issue codes: `SyncRulesCode`.
 */
export * from './types.ts';
export { compileSyncRules } from './compile.ts';
export { SyncRules, DEFAULT_MAX_BUCKETS } from './sync-rules.ts';
export type { BucketDefinitionInfo } from './bucket-definition.ts';
export type { StreamInfo, StreamPriority } from './streams/stream.ts';
export { resolveCompatibility, DEFAULT_EDITION, type Compatibility, type SyncConfigBlock, type TimestampPrecision } from './compatibility.ts';
export { TooManyBucketsError, TooManyParameterResultsError, ValueMappingError } from './errors.ts';
export { SyncRulesCode } from './issue-codes.ts';
export { pgTextToSqlite, pgRowToSqlite, decodeBytea } from './pg-value-mapping.ts';
export type { PgValueOptions } from './pg-value-options.ts';
export { PgOid, PG_ARRAY_ELEMENT_OIDS } from './pg-oids.ts';
export { parsePgArrayLiteral, MAX_ARRAY_DEPTH } from './pg-array-literal.ts';
export { patternMatches } from './table-pattern.ts';
export { toApiIssue } from './sql-issues.ts';
export { planRedeploy, type RedeployPlan } from './redeploy-plan.ts';
export {
  migrateSyncRulesToStreams,
  MigrationCode,
  DEFAULT_MIGRATION_MAX_LENGTH,
  type MigrationIssue,
  type MigrationResult,
  type MigrationOptions,
  type MigratedStreamSummary,
} from './migrate-to-streams.ts';
