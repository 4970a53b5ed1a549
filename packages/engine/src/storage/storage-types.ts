/**
 * Storage contracts shared by the replicator (writer), the sync stream (reader) and the admin API.
 * The Postgres implementation lives next to this file; a conformance suite in
 * test/storage/*.pg.test.ts runs against every implementation.
 */

export type VersionState = 'PROCESSING' | 'ACTIVE' | 'STOPPED' | 'ERRORED' | 'TERMINATED';

/**
 * Where a version came from: the SYNC_RULES_PATH file at startup, the REST admin API, the
 * dashboard, a dashboard/API roll back, or the replicator's automatic redeploy after a lost slot.
 * null for versions deployed before provenance was recorded.
 */
export const DEPLOY_SOURCES = ['file', 'api', 'dashboard', 'rollback', 'auto-redeploy'] as const;
export type DeploySource = (typeof DEPLOY_SOURCES)[number];

export interface SyncRulesVersion {
  id: number;
  state: VersionState;
  content: string;
  comment: string | null;
  slotName: string;
  snapshotDone: boolean;
  noCheckpointBefore: string | null;
  lastCheckpoint: bigint | null;
  lastCheckpointLsn: string | null;
  lastFatalError: string | null;
  createdAt: Date;
  activatedAt: Date | null;
  stoppedAt: Date | null;
  deploySource: DeploySource | null;
  /** The SYNC_RULES_PATH whose content this version holds (set for source 'file', or when the file later matched it). */
  deployPath: string | null;
  /** sha256 hex of `content`. */
  contentHash: string | null;
}

/** A consistent point clients may sync to. */
export interface Checkpoint {
  versionId: number;
  opId: bigint;
  lsn: string;
}

export const OP = { PUT: 1, REMOVE: 2, MOVE: 3, CLEAR: 4 } as const;
export type OpCode = (typeof OP)[keyof typeof OP];
export const OP_NAMES = { 1: 'PUT', 2: 'REMOVE', 3: 'MOVE', 4: 'CLEAR' } as const;
export type OpName = (typeof OP_NAMES)[OpCode];

/** One stored op as read for syncing. */
export interface StoredOp {
  opId: bigint;
  op: OpName;
  table: string | null;
  rowId: string | null;
  subkey: string | null;
  /** Unsigned 32-bit checksum for PUT/REMOVE/MOVE; for CLEAR the wrapped sum (unsigned). */
  checksum: number;
  data: string | null;
  targetOp: bigint | null;
}

/** One stored op as compaction scans it (no row data, only its length). */
export interface ScanOp {
  opId: bigint;
  op: number;
  tableName: string | null;
  rowId: string | null;
  sourceTable: number | null;
  sourceKey: string | null;
  checksum: number;
  /** Length of `data` (0 when null): what bucket_state.bytes counts. */
  bytes: number;
  targetOp: bigint | null;
}

export interface BucketChecksum {
  bucket: string;
  /** Unsigned 32-bit sum of all ops ≤ the checkpoint. */
  checksum: number;
  count: number;
}

/** Identity of a source table as replicated by one version. */
export interface SourceTableInfo {
  id: number;
  versionId: number;
  relationOid: number;
  schemaName: string;
  tableName: string;
  replicaIdColumns: Array<{ name: string; typeOid: number }>;
  replicaIdentity: 'default' | 'full' | 'index' | 'nothing';
  snapshotDone: boolean;
  snapshotCount: number;
  snapshotEstimatedCount: number | null;
  snapshotLastKey: string | null;
}
