/**
 * Errors thrown by the sync-rules engine at run time (validation problems are returned as
 * `SyncRulesIssue`s, never thrown).
 */
import { SyncRulesCode } from './issue-codes.ts';

/**
 * A connection would sync more buckets than allowed. The message names the definitions that
 * produced the most buckets and the setting to raise. HTTP 400-class: the client cannot fix it,
 * the operator must change the rules or the limit.
 */
export class TooManyBucketsError extends Error {
  readonly code = SyncRulesCode.TOO_MANY_BUCKETS;
  readonly status = 400;

  constructor(
    readonly bucketCount: number,
    readonly limit: number,
    /** Bucket counts per definition, largest first. */
    readonly countsByDefinition: ReadonlyArray<{ definition: string; buckets: number }>,
  ) {
    const top = countsByDefinition
      .slice(0, 5)
      .map((c) => `${c.definition} (${c.buckets})`)
      .join(', ');
    super(
      `Too many buckets: this connection would sync ${bucketCount} buckets, above the limit of ${limit}. ` +
        `Definitions with the most buckets: ${top}. Reduce the buckets per user in the sync rules or raise max_buckets_per_connection.`,
    );
    this.name = 'TooManyBucketsError';
  }
}

/** A source value cannot be converted (e.g. arrays nested deeper than 10 levels). */
export class ValueMappingError extends Error {
  readonly code = SyncRulesCode.VALUE_TOO_DEEP;
  constructor(message: string) {
    super(message);
    this.name = 'ValueMappingError';
  }
}

/**
 * The parameter lookups of a connection's legacy bucket definitions return more rows than
 * allowed (stream subscriptions report the same limit per subscription, not as a throw).
 */
export class TooManyParameterResultsError extends Error {
  readonly code = SyncRulesCode.TOO_MANY_PARAMETER_RESULTS;
  readonly status = 400;

  constructor(readonly limit: number) {
    super(
      `The parameter queries of this connection return more than ${limit} rows (MAX_PARAMETER_RESULTS_PER_CONNECTION); narrow the parameter queries or raise the limit.`,
    );
    this.name = 'TooManyParameterResultsError';
  }
}
