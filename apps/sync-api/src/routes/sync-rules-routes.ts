/**
 * PowerSync-compatible sync-rules admin REST (so existing tooling works):
 * `POST /api/sync-rules/v1/validate`, `POST /api/sync-rules/v1/deploy`, `GET /api/sync-rules/v1/current`,
 * `POST /api/admin/v1/diagnostics`. All need `Authorization: Bearer <ADMIN_TOKEN>`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServiceError } from '@syncline/protocol';
import { compileSyncRules, toApiIssue, deployRules, getLatestDeployed, getServingVersion, getVersionsInState, type SyncRulesVersion } from '@syncline/engine';
import { checkAdminToken } from '../auth.ts';
import type { Services } from '../services.ts';

/** Sync rules YAML arrives as the raw body (content-type application/yaml or text/plain) or as `{content}` JSON. */
function yamlFrom(req: FastifyRequest): string {
  const body = req.body as unknown;
  if (typeof body === 'string') return body;
  if (body && typeof body === 'object' && typeof (body as { content?: unknown }).content === 'string') return (body as { content: string }).content;
  throw new ServiceError('BAD_REQUEST', 'Send the sync rules YAML as the request body (Content-Type: application/yaml) or as JSON {"content": "..."}');
}

export function versionJson(v: SyncRulesVersion | null) {
  if (!v) return null;
  return {
    id: v.id,
    state: v.state,
    slot_name: v.slotName,
    snapshot_done: v.snapshotDone,
    last_checkpoint: v.lastCheckpoint?.toString() ?? null,
    last_checkpoint_lsn: v.lastCheckpointLsn,
    last_fatal_error: v.lastFatalError,
    comment: v.comment,
    /** file | api | dashboard | rollback | auto-redeploy (null: deployed before this was recorded). */
    deploy_source: v.deploySource,
    deploy_path: v.deployPath,
    created_at: v.createdAt.toISOString(),
    activated_at: v.activatedAt?.toISOString() ?? null,
    content: v.content,
  };
}

export function registerSyncRulesRoutes(app: FastifyInstance, s: Services): void {
  const admin = async (req: FastifyRequest) => checkAdminToken(req.headers.authorization, s.config.ADMIN_TOKEN);

  // PowerSync answers this route unwrapped (no `{data}`), so existing tooling reads `valid` directly.
  app.post('/api/sync-rules/v1/validate', { preHandler: admin }, async (req) => {
    const { rules, issues } = compileSyncRules(yamlFrom(req), { versionId: 0 });
    return {
      valid: !issues.some((i) => i.level === 'fatal'),
      errors: issues.map(toApiIssue),
      issues,
      bucket_definitions: rules?.definitions.map((d) => ({ name: d.name, priority: d.priority })) ?? [],
      source_tables: rules?.sourceTables().map((t) => `${t.schema}.${t.tablePattern}${t.isWildcard ? '%' : ''}`) ?? [],
    };
  });

  app.post('/api/sync-rules/v1/deploy', { preHandler: admin }, async (req, reply) => {
    const content = yamlFrom(req);
    const comment = typeof (req.query as { comment?: unknown }).comment === 'string' ? (req.query as { comment: string }).comment : null;
    const v = await deployRules(s.storage, content, comment, 'api');
    const { changed, added, removed, tables } = v.reprocessing;
    req.log.info(
      { version: v.id, source: 'api', changed, added, removed, reusableTables: tables.filter((t) => t.snapshot === 'reusable').map((t) => t.table) },
      'sync rules deployed (every table is snapshotted again; reusableTables are read only by unchanged streams/definitions)',
    );
    reply.code(200);
    return { data: { slot_name: v.slotName, id: v.id, state: v.state, warnings: v.warnings, reprocessing: v.reprocessing } };
  });

  app.get('/api/sync-rules/v1/current', { preHandler: admin }, async () => {
    const [active, latest] = await Promise.all([getServingVersion(s.storage), getLatestDeployed(s.storage)]);
    const next = latest && latest.state === 'PROCESSING' ? latest : null;
    return { data: { current: versionJson(active), next: versionJson(next) } };
  });

  app.post('/api/admin/v1/diagnostics', { preHandler: admin }, async () => {
    const versions = await getVersionsInState(s.storage, ['PROCESSING', 'ACTIVE', 'ERRORED']);
    const slots = await s.source
      .query<{ slot_name: string; active: boolean; lag_bytes: string | null; wal_status: string | null }>(
        `SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag_bytes, wal_status
           FROM pg_replication_slots WHERE slot_name = ANY($1)`,
        [versions.map((v) => v.slotName)],
      )
      .catch(() => ({ rows: [] }));
    return {
      data: {
        connections: [{ id: 'default', postgres_uri: redact(s.config.SOURCE_DATABASE_URL), connected: true }],
        active_sync_rules: versionJson(versions.find((v) => v.state === 'ACTIVE') ?? null),
        deploying_sync_rules: versionJson(versions.find((v) => v.state === 'PROCESSING') ?? null),
        replication_slots: slots.rows.map((r) => ({ ...r, lag_bytes: r.lag_bytes === null ? null : Number(r.lag_bytes) })),
      },
    };
  });
}

/** Removes the password from a connection URL. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
