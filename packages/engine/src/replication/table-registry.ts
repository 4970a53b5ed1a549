/**
 * Maps source relations to stored source tables of one version and their evaluators; decides
 * which tables need a (re-)snapshot when a relation appears or its identity changes.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { SyncRules } from '../sync-rules/index.ts';
import type { SourceTableInfo } from '../storage/storage-types.ts';
import { listSourceTables, listSourceTablesPendingRemoval, replaceSourceTables } from '../storage/pg-source-tables.ts';
import type { RowEvaluator } from './row-ops.ts';
import { describeTable, type SourceTableDescription } from './source-catalog.ts';
import { createTableEvaluator } from './table-evaluator.ts';

export interface ActiveTable {
  info: SourceTableInfo;
  keyColumns: Array<{ name: string; typeOid: number }>;
  columns: Array<{ name: string; typeOid: number }>;
  evaluator: RowEvaluator;
}

/**
 * - known: mapped and fully snapshotted; nothing to do.
 * - ignored: not synced; `replaced` are earlier mappings of it whose rows must now be removed.
 * - new: `table` must be snapshotted (a new mapping, or a mapping whose snapshot never finished:
 *   it resumes from its stored position), after the rows of `replaced` are removed.
 * Retired mappings are recorded durably (dropped, removal pending) in the same transaction that
 * creates their replacement; see removeSourceTableRows.
 */
export type ResolveResult =
  | { kind: 'known'; table: ActiveTable }
  | { kind: 'ignored'; replaced: ActiveTable[] }
  | { kind: 'new'; table: ActiveTable; replaced: ActiveTable[] };

export class TableRegistry {
  private readonly byOid = new Map<number, ActiveTable | null>();

  constructor(
    private readonly storage: pg.Pool,
    private readonly versionId: number,
    private readonly rules: SyncRules,
    private readonly logger: Logger,
  ) {}

  async load(): Promise<SourceTableInfo[]> {
    const tables = await listSourceTables(this.storage, this.versionId);
    for (const info of tables) {
      const keyColumns = info.replicaIdColumns;
      this.byOid.set(info.relationOid, {
        info,
        keyColumns,
        columns: keyColumns,
        evaluator: this.evaluatorFor(info, keyColumns),
      });
    }
    return tables;
  }

  get(oid: number): ActiveTable | null | undefined {
    return this.byOid.get(oid);
  }

  all(): ActiveTable[] {
    return [...this.byOid.values()].filter((t): t is ActiveTable => t !== null);
  }

  /**
   * Resolves a relation (from the catalog description, optionally with the column types the WAL
   * stream reported). Returns 'new' when the table must be snapshotted.
   */
  async resolve(desc: SourceTableDescription, walColumns?: Array<{ name: string; typeOid: number }>): Promise<ResolveResult> {
    const ref = { schema: desc.schema, name: desc.name };
    const match = this.rules.tableMatches(ref);
    const existing = this.byOid.get(desc.relationOid);
    // A table recreated under the same name gets a new oid: the old mapping is replaced too.
    const sameName = this.all().filter(
      (t) => t.info.relationOid !== desc.relationOid && t.info.schemaName === desc.schema && t.info.tableName === desc.name,
    );
    if (!match.data && !match.parameters) {
      return { kind: 'ignored', replaced: await this.retire(desc.relationOid, existing ? [existing] : []) };
    }
    const keyColumns = keyColumnsOf(desc);
    if (keyColumns.length === 0) {
      this.logger.warn(
        { table: `${desc.schema}.${desc.name}`, code: 'TABLE_WITHOUT_IDENTITY' },
        'table has no primary key or replica identity; add a primary key or run ALTER TABLE … REPLICA IDENTITY FULL. Skipping it.',
      );
      return { kind: 'ignored', replaced: await this.retire(desc.relationOid, existing ? [existing, ...sameName] : sameName) };
    }
    const columns = walColumns ?? desc.columns;
    if (existing && sameIdentity(existing, desc, keyColumns) && sameName.length === 0) {
      this.setColumns(existing, columns);
      // A snapshot that never finished (stopped or crashed midway) resumes from its stored position.
      return existing.info.snapshotDone ? { kind: 'known', table: existing } : { kind: 'new', table: existing, replaced: [] };
    }
    const retired = existing ? [existing, ...sameName] : sameName;
    const info = await replaceSourceTables(
      this.storage,
      retired.map((t) => t.info.id),
      {
        versionId: this.versionId,
        relationOid: desc.relationOid,
        schemaName: desc.schema,
        tableName: desc.name,
        replicaIdColumns: keyColumns,
        replicaIdentity: desc.replicaIdentity,
        snapshotEstimatedCount: desc.estimatedRows,
      },
    );
    for (const t of sameName) this.byOid.delete(t.info.relationOid);
    const table: ActiveTable = { info: info!, keyColumns, columns, evaluator: this.evaluatorFor(info!, columns) };
    this.byOid.set(desc.relationOid, table);
    return { kind: 'new', table, replaced: retired };
  }

  /** Retires a mapping whose table no longer exists in the source; its rows must then be removed. */
  async drop(table: ActiveTable): Promise<void> {
    await replaceSourceTables(this.storage, [table.info.id], null);
    if (this.byOid.get(table.info.relationOid) === table) this.byOid.delete(table.info.relationOid);
  }

  /** Retired mappings (see ResolveResult) whose rows are not all removed yet. */
  async loadPendingRemovals(): Promise<ActiveTable[]> {
    const tables = await listSourceTablesPendingRemoval(this.storage, this.versionId);
    return tables.map((info) => ({ info, keyColumns: info.replicaIdColumns, columns: info.replicaIdColumns, evaluator: this.evaluatorFor(info, info.replicaIdColumns) }));
  }

  private async retire(oid: number, tables: ActiveTable[]): Promise<ActiveTable[]> {
    if (tables.length > 0) await replaceSourceTables(this.storage, tables.map((t) => t.info.id), null);
    for (const t of tables) this.byOid.delete(t.info.relationOid);
    this.byOid.set(oid, null);
    return tables;
  }

  async describe(db: pg.Pool | pg.ClientBase, oid: number): Promise<SourceTableDescription | null> {
    return describeTable(db, oid);
  }

  /** Updates the column types used for value mapping (from a Relation message or a snapshot read). */
  setColumns(table: ActiveTable, columns: Array<{ name: string; typeOid: number }>): void {
    table.columns = columns;
    table.evaluator = this.evaluatorFor(table.info, columns);
  }

  private evaluatorFor(info: SourceTableInfo, columns: Array<{ name: string; typeOid: number }>): RowEvaluator {
    return createTableEvaluator(this.rules, { schema: info.schemaName, name: info.tableName }, columns, info.replicaIdentity === 'full');
  }
}

export function keyColumnsOf(desc: SourceTableDescription): Array<{ name: string; typeOid: number }> {
  if (desc.keyColumns.length > 0) return desc.keyColumns.map((k) => ({ name: k.name, typeOid: k.typeOid }));
  if (desc.replicaIdentity === 'full') return desc.columns;
  return [];
}

function sameIdentity(t: ActiveTable, desc: SourceTableDescription, keyColumns: Array<{ name: string; typeOid: number }>): boolean {
  return (
    t.info.schemaName === desc.schema &&
    t.info.tableName === desc.name &&
    t.info.replicaIdentity === desc.replicaIdentity &&
    JSON.stringify(t.keyColumns) === JSON.stringify(keyColumns)
  );
}
