/**
 * Options for mapping Postgres values to SQLite values (reference §6.5). Get them from
 * `SyncRules.valueOptions` so the edition flags of the deployed rules apply.
 */
import type { TimestampPrecision } from './compatibility.ts';

export interface PgValueOptions {
  /** ISO 8601 timestamps (`T` separator, fixed sub-second digits). Edition ≥ 2. */
  timestampsIso8601: boolean;
  /** Sub-second digits in ISO mode: seconds 0, milliseconds 3, microseconds 6 (default), nanoseconds 9. */
  timestampMaxPrecision?: TimestampPrecision | undefined;
  /** Map custom types (domains, arrays of custom element types) via their base types. Edition ≥ 2. */
  customPostgresTypes?: boolean;
  /**
   * Custom type OIDs the replicator discovered (`pg_type`), used when `customPostgresTypes` is on:
   * domain OID → base type OID, array OID → element type OID. Unknown OIDs map to TEXT.
   */
  customTypes?: ReadonlyMap<number, { kind: 'domain'; baseOid: number } | { kind: 'array'; elementOid: number }>;
}
