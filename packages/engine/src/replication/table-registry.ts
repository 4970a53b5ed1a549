/**
 * Maps source relations to stored source tables of one version and their evaluators; decides
 * which tables need a (re-)snapshot when a relation appears or its identity changes.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { SyncRules } from '../sync-rules/index.ts';
import type { SourceTableInfo } from '../storage/storage-types.ts';
import { createSourceTable, listSourceTables, markSourceTableDropped } from '../storage/pg-source-tables.ts';
import type { RowEvaluator } from './row-ops.ts';
import { describeTable, type SourceTableDescription } from './source-catalog.ts';
import { createTableEvaluator } from './table-evaluator.ts';

export interface ActiveTable {
  info: SourceTableInfo;
  keyColumns: Array<{ name: string; typeOid: number }>;
  columns: Array<{ name: string; typeOid: number }>;
  evaluator: RowEvaluator;
}

export type ResolveResult =
  | { kind: 'known'; table: ActiveTable }
  | { kind: 'ignored' }
  | { kind: 'new'; table: ActiveTable; replaced: ActiveTable | null };

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
    if (!match.data && !match.parameters) {
      this.byOid.set(desc.relationOid, null);
      return { kind: 'ignored' };
    }
    const keyColumns = keyColumnsOf(desc);
    if (keyColumns.length === 0) {
      this.logger.warn(
        { table: `${desc.schema}.${desc.name}`, code: 'TABLE_WITHOUT_IDENTITY' },
        'table has no primary key or replica identity; add a primary key or run ALTER TABLE … REPLICA IDENTITY FULL. Skipping it.',
      );
      this.byOid.set(desc.relationOid, null);
      return { kind: 'ignored' };
    }
    const columns = walColumns ?? desc.columns;
    const existing = this.byOid.get(desc.relationOid);
    if (existing && sameIdentity(existing, desc, keyColumns)) {
      this.setColumns(existing, columns);
      return { kind: 'known', table: existing };
    }
    let replaced: ActiveTable | null = null;
    if (existing) {
      replaced = existing;
      await markSourceTableDropped(this.storage, existing.info.id);
    }
    // A table recreated under the same name gets a new oid: the old mapping is replaced too.
    for (const t of this.all()) {
      if (t.info.relationOid !== desc.relationOid && t.info.schemaName === desc.schema && t.info.tableName === desc.name) {
        replaced = t;
        await markSourceTableDropped(this.storage, t.info.id);
        this.byOid.delete(t.info.relationOid);
      }
    }
    const info = await createSourceTable(this.storage, {
      versionId: this.versionId,
      relationOid: desc.relationOid,
      schemaName: desc.schema,
      tableName: desc.name,
      replicaIdColumns: keyColumns,
      replicaIdentity: desc.replicaIdentity,
      snapshotEstimatedCount: desc.estimatedRows,
    });
    const table: ActiveTable = { info, keyColumns, columns, evaluator: this.evaluatorFor(info, columns) };
    this.byOid.set(desc.relationOid, table);
    return { kind: 'new', table, replaced };
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
