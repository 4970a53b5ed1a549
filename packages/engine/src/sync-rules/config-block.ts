/**
 * Validation of the `config:` block of the sync-rules YAML.
 */
import { isMap, isScalar, type Node } from 'yaml';
import type { SyncConfigBlock, TimestampPrecision } from './compatibility.ts';
import { SyncRulesCode } from './issue-codes.ts';
import type { IssueCollector } from './sql-issues.ts';

const BOOLEAN_FLAGS = ['timestamps_iso8601', 'versioned_bucket_ids', 'fixed_json_extract', 'custom_postgres_types'] as const;
const PRECISIONS: readonly TimestampPrecision[] = ['seconds', 'milliseconds', 'microseconds', 'nanoseconds'];

function range(node: Node | null | undefined): { start: number; end: number } | undefined {
  const r = node?.range;
  return r ? { start: r[0], end: r[1] } : undefined;
}

export function parseConfig(node: Node | null, issues: IssueCollector): SyncConfigBlock | undefined {
  if (node === null || (isScalar(node) && node.value === null)) return undefined;
  if (!isMap(node)) {
    issues.add('fatal', SyncRulesCode.CONFIG, '`config` must be a mapping', range(node));
    return undefined;
  }
  const config: SyncConfigBlock = {};
  for (const pair of node.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    const valueNode = pair.value as Node | null;
    const value = isScalar(valueNode) ? valueNode.value : undefined;
    const at = range(valueNode) ?? range(keyNode);
    if (key === 'edition') {
      if (value === 1 || value === 2 || value === 3) config.edition = value;
      else issues.add('fatal', SyncRulesCode.CONFIG, `Invalid edition ${String(value)}; expected 1, 2 or 3`, at);
    } else if (key === 'storage_version') {
      if (value === 2) config.storage_version = 2;
      else issues.add('fatal', SyncRulesCode.CONFIG, `Storage version ${String(value)} is not supported`, at);
    } else if (key === 'timestamp_max_precision') {
      if (PRECISIONS.includes(value as TimestampPrecision)) config.timestamp_max_precision = value as TimestampPrecision;
      else issues.add('fatal', SyncRulesCode.CONFIG, `Invalid timestamp_max_precision '${String(value)}'; expected one of ${PRECISIONS.join(', ')}`, at);
    } else if ((BOOLEAN_FLAGS as readonly string[]).includes(key)) {
      if (typeof value === 'boolean') config[key as (typeof BOOLEAN_FLAGS)[number]] = value;
      else issues.add('fatal', SyncRulesCode.CONFIG, `\`${key}\` must be true or false`, at);
    } else if (key === 'unstable_sqlite_expression_engine') {
      issues.add('warning', SyncRulesCode.UNSUPPORTED_FEATURE, '`unstable_sqlite_expression_engine` is not supported and is ignored', range(keyNode));
    } else {
      issues.add('fatal', SyncRulesCode.CONFIG, `Unknown config key '${key}'`, range(keyNode));
    }
  }
  const isoEffective = config.timestamps_iso8601 ?? (config.edition ?? 2) >= 2;
  if (config.timestamp_max_precision && !isoEffective) {
    const precisionPair = node.items.find((p) => isScalar(p.key) && p.key.value === 'timestamp_max_precision');
    issues.add('fatal', SyncRulesCode.CONFIG, '`timestamp_max_precision` requires timestamps_iso8601', range(precisionPair?.key as Node | undefined));
  }
  return config;
}
