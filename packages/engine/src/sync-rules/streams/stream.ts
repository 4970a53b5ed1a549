/**
 * A compiled Sync Stream: its bucket variants (queriers) and row evaluators, plus the public
 * read-only description the dashboard shows (`SyncRules.streams`).
 */
import type { DataSource, VariantQuerier } from './plan.ts';

export type StreamPriority = 0 | 1 | 2 | 3;

/** Public, read-only description of a stream. */
export interface StreamInfo {
  name: string;
  /** `auto_subscribe`: every connection gets it (unless `include_defaults: false`). */
  autoSubscribe: boolean;
  /** Stream priority (default 3); subscriptions may override it. */
  priority: StreamPriority;
  /** Number of distinct bucket variants (`<stream>|<n>`). */
  variantCount: number;
  /** Every table pattern the stream reads (synced and joined tables), as `schema.table`. */
  tablesRead: readonly string[];
}

export interface CompiledStream {
  name: string;
  autoSubscribe: boolean;
  priority: StreamPriority;
  variants: VariantQuerier[];
  dataSources: DataSource[];
  tablesRead: string[];
}

export function streamInfo(s: CompiledStream): StreamInfo {
  return { name: s.name, autoSubscribe: s.autoSubscribe, priority: s.priority, variantCount: s.variants.length, tablesRead: s.tablesRead };
}
