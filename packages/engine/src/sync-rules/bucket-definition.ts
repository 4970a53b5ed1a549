/**
 * One compiled entry of `bucket_definitions`.
 */
import { isBucketParameterValue, serializeBucketParameters, type BucketParameterValue } from '@syncline/protocol';
import type { DataQuery } from './data-query.ts';
import type { Priority, RequestParameterQuery, TableParameterQuery } from './parameter-queries.ts';
import type { SqliteRow } from './types.ts';

/** Public, read-only description of a definition. */
export interface BucketDefinitionInfo {
  name: string;
  /** Definition priority (default 3); `_priority` in a parameter query can override it per query. */
  priority: Priority;
  /** Bucket parameter names, in bucket-id order. */
  bucketParameters: readonly string[];
  /** Number of parameter queries (0 = a global bucket). */
  parameterQueryCount: number;
  dataQueryCount: number;
  /** True when some buckets come from table-based parameter queries (lookups at sync time). */
  hasDynamicBuckets: boolean;
}

export class BucketDefinition implements BucketDefinitionInfo {
  constructor(
    readonly name: string,
    readonly priority: Priority,
    readonly bucketParameters: readonly string[],
    readonly requestQueries: readonly RequestParameterQuery[],
    readonly tableQueries: readonly TableParameterQuery[],
    readonly dataQueries: readonly DataQuery[],
    /** `<version>#<name>` or `<name>`. */
    readonly bucketPrefix: string,
    readonly parameterQueryCount: number,
  ) {}

  get dataQueryCount(): number {
    return this.dataQueries.length;
  }

  get hasDynamicBuckets(): boolean {
    return this.tableQueries.length > 0;
  }

  /** Bucket id for one parameter row, or null when a value cannot be a bucket parameter. */
  bucketId(params: SqliteRow): string | null {
    const values: BucketParameterValue[] = [];
    for (const name of this.bucketParameters) {
      const v = params[name];
      if (v === undefined || v === null || !isBucketParameterValue(v)) return null;
      values.push(v);
    }
    return this.bucketPrefix + serializeBucketParameters(values);
  }

  info(): BucketDefinitionInfo {
    return {
      name: this.name,
      priority: this.priority,
      bucketParameters: this.bucketParameters,
      parameterQueryCount: this.parameterQueryCount,
      dataQueryCount: this.dataQueryCount,
      hasDynamicBuckets: this.hasDynamicBuckets,
    };
  }
}
