/**
 * Stable codes of sync-rules validation issues and evaluation errors. Each comment gives the
 * cause and the fix. Codes never change meaning; new ones are appended.
 */
export const SyncRulesCode = {
  /** The text is not valid YAML (syntax error, duplicate key…). Fix the YAML at the position. */
  YAML_SYNTAX: 'SYNC_RULES_YAML_SYNTAX',
  /** Valid YAML with the wrong shape: unknown key, wrong type, missing `data`. */
  SCHEMA: 'SYNC_RULES_SCHEMA',
  /** A `config:` value is invalid (edition, storage version, precision). */
  CONFIG: 'SYNC_RULES_CONFIG',
  /** A feature Syncline does not implement (e.g. `event_definitions`, which are ignored). */
  UNSUPPORTED_FEATURE: 'SYNC_RULES_UNSUPPORTED_FEATURE',
  /** SQL that does not parse. Fix the SQL at the position. */
  SQL_SYNTAX: 'SYNC_RULES_SQL_SYNTAX',
  /** SQL that parses but uses something sync rules do not support (JOIN, LIMIT, subquery…). */
  SQL_UNSUPPORTED: 'SYNC_RULES_SQL_UNSUPPORTED',
  /** A function that does not exist, or wrong number of arguments. */
  UNKNOWN_FUNCTION: 'SYNC_RULES_UNKNOWN_FUNCTION',
  /** A column/table/parameter reference that cannot be resolved in that query. */
  UNDEFINED_REFERENCE: 'SYNC_RULES_UNDEFINED_REFERENCE',
  /** A data query does not select an `id` column. */
  MISSING_ID: 'SYNC_RULES_MISSING_ID',
  /** A data query's WHERE does not reference every bucket parameter. */
  PARAMETERS_NOT_COVERED: 'SYNC_RULES_PARAMETERS_NOT_COVERED',
  /** Parameter queries of one definition output different column sets. */
  PARAMETERS_MISMATCH: 'SYNC_RULES_PARAMETERS_MISMATCH',
  /** A parameter query WHERE clause that cannot be turned into an index lookup. */
  INVALID_FILTER: 'SYNC_RULES_INVALID_FILTER',
  /** Priority outside 0..3. */
  INVALID_PRIORITY: 'SYNC_RULES_INVALID_PRIORITY',
  /** Warning: bucket selection depends only on client-controlled parameters. */
  DANGEROUS_QUERY: 'SYNC_RULES_DANGEROUS_QUERY',
  /** Warning: a table or column is not in the supplied source schema. */
  SCHEMA_MISMATCH: 'SYNC_RULES_SCHEMA_MISMATCH',
  /** Resolving a connection's buckets exceeded `max_buckets_per_connection`. */
  TOO_MANY_BUCKETS: 'SYNC_TOO_MANY_BUCKETS',
  /** A source value nests deeper than 10 levels (arrays / JSON). */
  VALUE_TOO_DEEP: 'SYNC_VALUE_TOO_DEEP',
  /** The parameter lookups of a connection's bucket definitions return more rows than allowed. */
  TOO_MANY_PARAMETER_RESULTS: 'SYNC_TOO_MANY_PARAMETER_RESULTS',
  /** Edition 3 with `bucket_definitions`, or edition 3 without `streams`. Use `streams:` only in edition 3. */
  EDITION_MISMATCH: 'SYNC_RULES_EDITION_MISMATCH',
  /** Warning: `streams:` in edition 1/2 use the alpha semantics; set `config: { edition: 3 }`. */
  STREAMS_ALPHA: 'SYNC_RULES_STREAMS_ALPHA',
  /** Two streams / bucket definitions share a name. Rename one. */
  DUPLICATE_NAME: 'SYNC_RULES_DUPLICATE_NAME',
  /** Warning: a `with:` common table expression no query references. Remove it or use it. */
  UNUSED_CTE: 'SYNC_RULES_UNUSED_CTE',
} as const;

export type SyncRulesCode = (typeof SyncRulesCode)[keyof typeof SyncRulesCode];
