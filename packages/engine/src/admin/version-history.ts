/**
 * Sync-rules version history for the admin console: every version with its state, comment, times,
 * snapshot progress (from source_tables), replication counters and the streams / bucket
 * definitions it declares; line diff of two versions with per-stream changes.
 */
import type pg from 'pg';
import { ServiceError } from '@syncline/protocol';
import { compileSyncRules, type SyncRulesIssue } from '../sync-rules/index.ts';
import { deployVersion, getServingVersion, getVersion } from '../storage/pg-versions.ts';
import { planRedeploy, type RedeployPlan } from '../sync-rules/redeploy-plan.ts';
import type { DeploySource, VersionState } from '../storage/storage-types.ts';
import { idText } from './admin-deps.ts';
import { diffLines, diffStats, type DiffLine } from './line-diff.ts';
import { streamChanges, streamOutline, type StreamChange, type StreamOutline } from './sync-rules-text.ts';

export interface SnapshotProgress {
  tablesTotal: number;
  tablesDone: number;
  rowsCopied: number;
  /** Sum of the planner's row estimates when the snapshot started (null when unknown). */
  rowsEstimated: number | null;
}

export interface VersionSummary {
  id: number;
  state: VersionState;
  comment: string | null;
  /** Where the version came from (null: deployed before this was recorded). */
  deploySource: DeploySource | null;
  /** SYNC_RULES_PATH whose content the version holds (deployed from it, or the file later matched it). */
  deployPath: string | null;
  slotName: string;
  snapshotDone: boolean;
  snapshot: SnapshotProgress;
  lastCheckpoint: string | null;
  lastCheckpointLsn: string | null;
  lastCheckpointAt: string | null;
  lastFatalError: string | null;
  createdAt: string;
  activatedAt: string | null;
  stoppedAt: string | null;
  /** Bytes of YAML; the content itself is fetched per version. */
  contentLength: number;
  /** Edition and the bucket definitions / streams the version declares (auto_subscribe, priority). */
  outline: StreamOutline;
}

interface Row {
  id: number;
  state: VersionState;
  comment: string | null;
  deploy_source: DeploySource | null;
  deploy_path: string | null;
  slot_name: string;
  snapshot_done: boolean;
  last_checkpoint: string | null;
  last_checkpoint_lsn: string | null;
  last_checkpoint_at: Date | null;
  last_fatal_error: string | null;
  created_at: Date;
  activated_at: Date | null;
  stopped_at: Date | null;
  content_length: number;
  content: string;
  tables_total: number;
  tables_done: number;
  rows_copied: string;
  rows_estimated: string | null;
}

/** Newest first; `before` pages backwards by id. */
export async function listVersionHistory(storage: pg.Pool, opts: { limit?: number; before?: number } = {}): Promise<VersionSummary[]> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  const { rows } = await storage.query<Row>(
    `SELECT v.id, v.state, v.comment, v.deploy_source, v.deploy_path, v.slot_name, v.snapshot_done, v.last_checkpoint::text, v.last_checkpoint_lsn,
            v.last_checkpoint_at, v.last_fatal_error, v.created_at, v.activated_at, v.stopped_at,
            length(v.content) AS content_length, v.content,
            coalesce(t.total, 0)::int AS tables_total, coalesce(t.done, 0)::int AS tables_done,
            coalesce(t.copied, 0)::text AS rows_copied, t.estimated::text AS rows_estimated
       FROM syncline.sync_rules_versions v
       LEFT JOIN LATERAL (
         SELECT count(*) AS total, count(*) FILTER (WHERE snapshot_done) AS done,
                sum(snapshot_count) AS copied, sum(snapshot_estimated_count) AS estimated
           FROM syncline.source_tables s WHERE s.version_id = v.id AND NOT s.dropped) t ON true
      WHERE ($2::int IS NULL OR v.id < $2)
      ORDER BY v.id DESC LIMIT $1`,
    [limit, opts.before ?? null],
  );
  return rows.map(toSummary);
}

/** Version content never changes: the dashboard polls the history, so outlines are parsed once. */
const outlines = new Map<string, StreamOutline>();
const OUTLINE_CACHE_LIMIT = 200;

function cachedOutline(content: string): StreamOutline {
  let o = outlines.get(content);
  if (!o) {
    if (outlines.size >= OUTLINE_CACHE_LIMIT) outlines.clear();
    outlines.set(content, (o = streamOutline(content)));
  }
  return o;
}

function toSummary(r: Row): VersionSummary {
  return {
    id: r.id,
    state: r.state,
    comment: r.comment,
    deploySource: r.deploy_source,
    deployPath: r.deploy_path,
    slotName: r.slot_name,
    snapshotDone: r.snapshot_done,
    snapshot: {
      tablesTotal: r.tables_total,
      tablesDone: r.tables_done,
      rowsCopied: Number(r.rows_copied),
      rowsEstimated: r.rows_estimated === null ? null : Number(r.rows_estimated),
    },
    lastCheckpoint: idText(r.last_checkpoint),
    lastCheckpointLsn: r.last_checkpoint_lsn,
    lastCheckpointAt: r.last_checkpoint_at?.toISOString() ?? null,
    lastFatalError: r.last_fatal_error,
    createdAt: r.created_at.toISOString(),
    activatedAt: r.activated_at?.toISOString() ?? null,
    stoppedAt: r.stopped_at?.toISOString() ?? null,
    contentLength: r.content_length,
    outline: cachedOutline(r.content),
  };
}

/** One version with its YAML. */
export async function getVersionContent(storage: pg.Pool, id: number): Promise<{ id: number; state: VersionState; comment: string | null; content: string }> {
  const v = await getVersion(storage, id);
  if (!v) throw new ServiceError('NOT_FOUND', `Sync-rules version ${id} does not exist.`);
  return { id: v.id, state: v.state, comment: v.comment, content: v.content };
}

export interface VersionDiff {
  from: number;
  to: number;
  added: number;
  deleted: number;
  lines: DiffLine[];
  /** Per bucket definition / stream: added, removed, changed (what) or unchanged. */
  streams: StreamChange[];
  edition: { from: number; to: number };
}

/** Line diff from version `from` to version `to`. */
export async function diffVersions(storage: pg.Pool, from: number, to: number): Promise<VersionDiff> {
  const [a, b] = await Promise.all([getVersionContent(storage, from), getVersionContent(storage, to)]);
  const lines = diffLines(a.content, b.content);
  return { from, to, ...diffStats(lines), lines, streams: streamChanges(a.content, b.content), edition: { from: streamOutline(a.content).edition, to: streamOutline(b.content).edition } };
}

export interface DeployResult {
  id: number;
  state: VersionState;
  slotName: string;
  warnings: SyncRulesIssue[];
  /** What changed against the serving version, and which tables a snapshot reuse could skip. */
  reprocessing: RedeployPlan;
}

/** Validates and deploys YAML as a new PROCESSING version; invalid rules change nothing. */
export async function deployRules(storage: pg.Pool, content: string, comment: string | null, source: DeploySource = 'api'): Promise<DeployResult> {
  const { rules, issues } = compileSyncRules(content, { versionId: 0 });
  if (!rules) {
    const fatal = issues.filter((i) => i.level === 'fatal');
    throw new ServiceError('SYNC_RULES_INVALID', `Sync rules are invalid: ${fatal.map((i) => (i.location ? `line ${i.location.line}: ` : '') + i.message).join('; ')}`, issues);
  }
  const serving = await getServingVersion(storage);
  const reprocessing = planRedeploy(serving?.content ?? null, content);
  const v = await deployVersion(storage, content, comment, { source });
  return { id: v.id, state: v.state, slotName: v.slotName, warnings: issues, reprocessing };
}

/** Roll back: deploys an earlier version's content as a new version. */
export async function rollbackToVersion(storage: pg.Pool, id: number, comment?: string | null): Promise<DeployResult> {
  const old = await getVersionContent(storage, id);
  return deployRules(storage, old.content, comment ?? `Roll back to version ${id}`, 'rollback');
}
