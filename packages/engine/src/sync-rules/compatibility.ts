/**
 * Editions and compatibility flags (`config:` in the sync-rules YAML).
 *
 * Syncline's default is **edition 2** behaviour: when `config.edition` is absent (whether or not
 * a `config:` block exists), `timestamps_iso8601`, `versioned_bucket_ids`, `fixed_json_extract`
 * and `custom_postgres_types` are all on. Users migrating from PowerSync who relied on the
 * legacy behaviour (PowerSync's own default) write `config: { edition: 1 }`, which turns the
 * flags off. Individual flags override the edition either way.
 *
 * Versioned bucket ids: like PowerSync with its default storage version 2, the `<version>#`
 * prefix is used whenever `storage_version` ≥ 2 (the default) or `versioned_bucket_ids` is on;
 * setting `versioned_bucket_ids: false` explicitly removes the prefix.
 *
 * @example
 * resolveCompatibility(undefined).timestampsIso8601; // true (edition 2)
 * resolveCompatibility({ edition: 1 }).timestampsIso8601; // false
 * resolveCompatibility({ edition: 1, fixed_json_extract: true }).fixedJsonExtract; // true
 */

export type TimestampPrecision = 'seconds' | 'milliseconds' | 'microseconds' | 'nanoseconds';

/** The `config:` block as written in YAML (after shape validation). */
export interface SyncConfigBlock {
  edition?: number;
  storage_version?: number;
  timestamp_max_precision?: TimestampPrecision;
  timestamps_iso8601?: boolean;
  versioned_bucket_ids?: boolean;
  fixed_json_extract?: boolean;
  custom_postgres_types?: boolean;
  unstable_sqlite_expression_engine?: boolean;
}

export interface Compatibility {
  /** 3 = Sync Streams compiler (`streams:` only); flags as edition 2. */
  edition: 1 | 2 | 3;
  storageVersion: number;
  timestampsIso8601: boolean;
  versionedBucketIds: boolean;
  fixedJsonExtract: boolean;
  customPostgresTypes: boolean;
  timestampMaxPrecision: TimestampPrecision | undefined;
}

/** Syncline's default edition when `config.edition` is absent. */
export const DEFAULT_EDITION = 2;
export const DEFAULT_STORAGE_VERSION = 2;

export function resolveCompatibility(config: SyncConfigBlock | undefined): Compatibility {
  const declared = config?.edition ?? DEFAULT_EDITION;
  const edition = declared >= 3 ? 3 : declared >= 2 ? 2 : 1;
  const modern = edition >= 2;
  const storageVersion = config?.storage_version ?? DEFAULT_STORAGE_VERSION;
  return {
    edition,
    storageVersion,
    timestampsIso8601: config?.timestamps_iso8601 ?? modern,
    versionedBucketIds: config?.versioned_bucket_ids ?? (modern || storageVersion >= 2),
    fixedJsonExtract: config?.fixed_json_extract ?? modern,
    customPostgresTypes: config?.custom_postgres_types ?? modern,
    timestampMaxPrecision: config?.timestamp_max_precision,
  };
}
