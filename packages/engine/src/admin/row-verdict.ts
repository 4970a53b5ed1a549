/**
 * The verdict of "why is row R (not) in user U's buckets" for one bucket definition or stream:
 * the buckets the row lands in (evaluateRow) against the buckets the user's request yields (with
 * reasons), the user's subscriptions to the stream and their errors, the parameter lookups
 * involved, and — for rows reached through a JOIN / IN-subquery — whether this row itself feeds a
 * lookup the user's resolution read. Pure: row-explain.ts gathers the inputs.
 */
import type { DefinitionQueries } from './sync-rules-text.ts';
import type { LookupResult, ReasonLabel, SubscriptionResult } from './user-inspection.ts';

export type Verdict =
  | 'in-bucket'
  | 'no-bucket-for-row'
  | 'user-has-none'
  | 'different-parameters'
  /** The stream is not auto-subscribed and no subscription of the request names it. */
  | 'not-subscribed'
  /** The user's subscriptions to the stream failed (see `subscriptionErrors`). */
  | 'subscription-error';

export interface VerdictRowBucket {
  bucket: string;
  definition: string;
  table: string;
  id: string;
  parameters: unknown[];
}

export interface VerdictUserBucket {
  bucket: string;
  parameters: unknown[];
  priority: number;
  reasons: ReasonLabel[];
}

/** A parameter-index entry this row produces, and whether the user's resolution read that key. */
export interface FedLookup {
  lookup: string;
  /** Stream / definition the lookup belongs to (from its key or the querier), when known. */
  stream: string | null;
  bucketParameters: unknown[];
  readByUser: boolean;
}

export interface DefinitionExplanation {
  /** Bucket definition or stream name. */
  definition: string;
  kind: 'definition' | 'stream';
  queries: DefinitionQueries | null;
  verdict: Verdict;
  message: string;
  rowBuckets: VerdictRowBucket[];
  userBuckets: VerdictUserBucket[];
  /** The user's explicit subscriptions to this stream (index = `sub i`). */
  subscriptions: SubscriptionResult[];
  subscriptionErrors: string[];
  /** Lookups of this stream the user's resolution read, with their results. */
  lookups: LookupResult[];
  /** Lookups this row feeds (JOIN / subquery side of this stream). */
  rowFeeds: FedLookup[];
}

export interface StreamVerdictInput {
  name: string;
  kind: 'definition' | 'stream';
  autoSubscribe: boolean;
  queries: DefinitionQueries | null;
  rowExists: boolean;
  tableName: string;
  includeDefaults: boolean;
  rowBuckets: VerdictRowBucket[];
  userBuckets: VerdictUserBucket[];
  subscriptions: SubscriptionResult[];
  /** Errors of the stream's default (implicit) subscription. */
  defaultErrors: string[];
  lookups: LookupResult[];
  rowFeeds: FedLookup[];
}

const show = (v: unknown) => JSON.stringify(v);

function list(items: string[], max = 10): string {
  return items.slice(0, max).join(', ') + (items.length > max ? ` and ${items.length - max} more` : '');
}

export function streamVerdict(i: StreamVerdictInput): DefinitionExplanation {
  const userSet = new Set(i.userBuckets.map((b) => b.bucket));
  const hit = i.rowBuckets.filter((b) => userSet.has(b.bucket));
  const subscribed = i.subscriptions.length > 0 || (i.autoSubscribe && i.includeDefaults);
  const subscriptionErrors = [...i.subscriptions.flatMap((s) => s.errors.map((e) => `sub ${s.index}: ${e}`)), ...i.defaultErrors.map((e) => `default: ${e}`)];
  const label = i.kind === 'stream' ? `stream "${i.name}"` : `"${i.name}"`;
  const feeds = i.rowFeeds.filter((f) => f.readByUser);
  const joinNote = feeds.length
    ? ` This row feeds the parameter lookup${feeds.length > 1 ? 's' : ''} ${list(feeds.map((f) => f.lookup))} that the user's resolution read, so it decides which buckets the user gets (JOIN / subquery side).`
    : '';
  let verdict: Verdict;
  let message: string;
  if (hit.length > 0) {
    verdict = 'in-bucket';
    const why = i.userBuckets.filter((b) => hit.some((h) => h.bucket === b.bucket)).map((b) => `${b.bucket} (${b.reasons.join(', ')}, priority ${b.priority})`);
    message = `The row is in ${list(why)}, which the user syncs.`;
  } else if (i.rowBuckets.length === 0) {
    verdict = 'no-bucket-for-row';
    message = i.rowExists
      ? `No query of ${label} puts this row in a bucket: none selects from ${i.tableName}, or its WHERE filter found no bucket parameter value (e.g. the compared column is NULL or does not match).${joinNote}`
      : `The row does not exist in the source table, so no bucket contains it.`;
  } else if (!subscribed) {
    verdict = 'not-subscribed';
    message =
      i.kind === 'stream' && !i.autoSubscribe
        ? `The row is in ${list(i.rowBuckets.map((b) => b.bucket))}, but ${label} has auto_subscribe off and the request has no subscription to it.`
        : `The row is in ${list(i.rowBuckets.map((b) => b.bucket))}, but the request sets include_defaults: false and has no subscription to ${label}.`;
  } else if (i.userBuckets.length === 0 && subscriptionErrors.length > 0) {
    verdict = 'subscription-error';
    message = `The row is in ${list(i.rowBuckets.map((b) => b.bucket))}, but the user's subscriptions to ${label} failed: ${list(subscriptionErrors, 5)}.`;
  } else if (i.userBuckets.length === 0) {
    verdict = 'user-has-none';
    const lookups = i.lookups.length ? `: the parameter lookups returned ${i.lookups.map((l) => `${show(l.values)} → ${l.results.length} row(s)`).join('; ')}` : ` (its ${i.kind === 'stream' ? 'subscription parameters, request filters or lookups' : 'parameter queries'} produced nothing for this user)`;
    message = `The row is in ${list(i.rowBuckets.map((b) => b.bucket))}, but the user gets no bucket of ${label}${lookups}.`;
  } else {
    verdict = 'different-parameters';
    message = `The row is in bucket parameters ${list(i.rowBuckets.map((b) => show(b.parameters)))}, but the user's ${label} buckets have ${list(i.userBuckets.map((b) => show(b.parameters)))}.`;
  }
  if (verdict !== 'no-bucket-for-row' && joinNote) message += joinNote;
  const sources = i.lookups.flatMap((l) => l.sources.map((s) => `${s.table} ${s.id}`));
  if (sources.length > 0 && (verdict === 'in-bucket' || verdict === 'different-parameters')) {
    message += ` The user's buckets of ${label} come from parameter lookups over ${list([...new Set(sources)])}.`;
  }
  return {
    definition: i.name,
    kind: i.kind,
    queries: i.queries,
    verdict,
    message,
    rowBuckets: i.rowBuckets,
    userBuckets: i.userBuckets,
    subscriptions: i.subscriptions,
    subscriptionErrors,
    lookups: i.lookups,
    rowFeeds: i.rowFeeds,
  };
}
