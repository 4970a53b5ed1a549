/**
 * Syncline's own admin REST under `/api/admin/v1/…`, declared as data: each route names the tRPC
 * procedure it calls, so REST and tRPC share one implementation and one set of zod inputs. The
 * serving app registers them and builds the OpenAPI description from this table
 * (`openApiDocument`). Query and path values arrive as strings; `numeric` names those converted.
 */
import { z } from 'zod';

export interface RestRoute {
  method: 'GET' | 'POST';
  /** Fastify-style path with `:param` segments. */
  path: string;
  /** Dotted tRPC procedure path, e.g. `users.inspect`. */
  procedure: string;
  summary: string;
  /** Query/path parameters converted to numbers. */
  numeric?: readonly string[];
  /** Query parameters converted to booleans. */
  boolean?: readonly string[];
  /** Parameters documented in OpenAPI (path params are derived from `path`). */
  query?: readonly string[];
  /** Documents a JSON request body (POST). */
  body?: z.ZodType;
}

const subscription = z.object({
  stream: z.string(),
  parameters: z.record(z.string(), z.unknown()).nullable().optional(),
  overridePriority: z.number().int().min(0).max(3).nullable().optional(),
});
const user = z.object({
  userId: z.string(),
  claims: z.record(z.string(), z.unknown()).optional(),
  clientParameters: z.record(z.string(), z.unknown()).optional(),
  subscriptions: z.array(subscription).optional(),
  includeDefaults: z.boolean().optional(),
  versionId: z.number().int().optional(),
});

export const restRoutes: readonly RestRoute[] = [
  { method: 'GET', path: '/api/admin/v1/sync-rules/versions', procedure: 'syncRules.history', summary: 'Version history (newest first) with state, comment, times, snapshot progress', numeric: ['limit', 'before'], query: ['limit', 'before'] },
  { method: 'GET', path: '/api/admin/v1/sync-rules/current', procedure: 'syncRules.current', summary: 'Active and deploying versions, active content' },
  { method: 'GET', path: '/api/admin/v1/sync-rules/versions/:id', procedure: 'syncRules.version', summary: 'One version with its YAML', numeric: ['id'] },
  { method: 'GET', path: '/api/admin/v1/sync-rules/diff', procedure: 'syncRules.diff', summary: 'Line diff between two versions', numeric: ['from', 'to'], query: ['from', 'to'] },
  { method: 'POST', path: '/api/admin/v1/sync-rules/validate', procedure: 'syncRules.validate', summary: 'Validate YAML; issues with line and column', body: z.object({ content: z.string(), schemaAware: z.boolean().optional() }) },
  { method: 'POST', path: '/api/admin/v1/sync-rules/deploy', procedure: 'syncRules.deploy', summary: 'Deploy YAML as a new PROCESSING version', body: z.object({ content: z.string(), comment: z.string().optional() }) },
  { method: 'POST', path: '/api/admin/v1/sync-rules/versions/:id/rollback', procedure: 'syncRules.rollback', summary: "Deploy an earlier version's content as a new version", numeric: ['id'], body: z.object({ comment: z.string().optional() }) },
  { method: 'POST', path: '/api/admin/v1/sync-rules/impact', procedure: 'syncRules.impact', summary: 'Impact preview: buckets and rows per definition / stream, candidate vs active (sampled for big tables); per stream for sample users with subscriptions', body: z.object({ content: z.string(), rowLimitPerTable: z.number().int().optional(), users: z.array(user.omit({ versionId: true })).optional() }) },
  { method: 'POST', path: '/api/admin/v1/sync-rules/migrate-to-streams', procedure: 'syncRules.migrateToStreams', summary: 'Sync Streams (edition 3) draft of the given or the active sync rules: YAML, line diff, issues (stores nothing)', body: z.object({ content: z.string().optional() }) },
  { method: 'POST', path: '/api/admin/v1/users/inspect', procedure: 'users.inspect', summary: "A user's buckets (for a request with stream subscriptions) with stream, priority, reasons, op count, live rows, checksum, size; per-subscription buckets and errors; parameter lookups", body: user },
  { method: 'POST', path: '/api/admin/v1/users/explain-row', procedure: 'users.explainRow', summary: "Why a source row is (not) in a user's buckets", body: user.extend({ row: z.object({ schema: z.string().optional(), table: z.string(), id: z.string() }) }) },
  { method: 'POST', path: '/api/admin/v1/users/dev-token', procedure: 'users.devToken', summary: 'Mint a dev token for a user (DEV_MODE)', body: z.object({ userId: z.string(), claims: z.record(z.string(), z.unknown()).optional(), ttlSeconds: z.number().int().optional() }) },
  { method: 'GET', path: '/api/admin/v1/buckets', procedure: 'buckets.list', summary: 'Buckets of a version (keyset pagination by name)', numeric: ['versionId', 'limit'], query: ['versionId', 'prefix', 'after', 'limit'] },
  { method: 'GET', path: '/api/admin/v1/buckets/ops', procedure: 'buckets.ops', summary: "A bucket's ops (paginated by op id; filter by op type and row id)", numeric: ['versionId', 'limit'], query: ['versionId', 'bucket', 'after', 'limit', 'op', 'rowId'] },
  { method: 'GET', path: '/api/admin/v1/rows', procedure: 'buckets.row', summary: "A source row's bucket memberships (stored and evaluated now)", numeric: ['versionId'], query: ['versionId', 'schema', 'table', 'id'] },
  { method: 'POST', path: '/api/admin/v1/verification', procedure: 'verification.start', summary: 'Start a checksum verification run', body: z.object({ versionId: z.number().int().optional(), userId: z.string().optional(), claims: z.record(z.string(), z.unknown()).optional(), clientParameters: z.record(z.string(), z.unknown()).optional() }) },
  { method: 'GET', path: '/api/admin/v1/verification', procedure: 'verification.runs', summary: 'Verification history', numeric: ['limit', 'before'], query: ['limit', 'before'] },
  { method: 'GET', path: '/api/admin/v1/verification/:id', procedure: 'verification.run', summary: 'One run with progress', numeric: ['id'] },
  { method: 'GET', path: '/api/admin/v1/verification/:id/mismatches', procedure: 'verification.mismatches', summary: "A run's mismatches", numeric: ['id', 'after', 'limit'], query: ['after', 'limit'] },
  { method: 'POST', path: '/api/admin/v1/verification/:id/cancel', procedure: 'verification.cancel', summary: 'Cancel a run', numeric: ['id'] },
  { method: 'GET', path: '/api/admin/v1/connections', procedure: 'connections.list', summary: 'Open sync streams of all API processes, with the serving process (processId, processName); filter by user or process', numeric: ['limit'], query: ['userId', 'processId', 'limit'] },
  { method: 'POST', path: '/api/admin/v1/connections/:id/disconnect', procedure: 'connections.disconnect', summary: 'End one stream (within ~5 s)' },
  { method: 'GET', path: '/api/admin/v1/health/replication', procedure: 'health.replication', summary: 'Replication state per version: snapshot, LSN, lag, WAL retained, counters' },
  { method: 'GET', path: '/api/admin/v1/health/samples', procedure: 'health.samples', summary: 'Persisted health samples of the last N minutes', numeric: ['minutes'], query: ['minutes'] },
  { method: 'GET', path: '/api/admin/v1/cluster/processes', procedure: 'cluster.processes', summary: 'Every sync-api process (runner, version, uptime, connections, memory, CPU, status, last heartbeat) and the active replicator and standbys per version' },
  { method: 'GET', path: '/api/admin/v1/cluster/history', procedure: 'cluster.history', summary: 'Per-process history (connections, memory, CPU, replication lag) of the last N minutes, downsampled to at most `points` buckets', numeric: ['minutes', 'points'], query: ['minutes', 'points'] },
  // POST /compact, POST /defragment and GET /fragmentation are served by sync-api's compaction routes (same engine calls).
  { method: 'GET', path: '/api/admin/v1/compaction/status', procedure: 'compaction.status', summary: "The scheduled Compactor's state: running, last run (buckets, moved, removed, duration), last error" },
];

/** Builds the procedure input from path params, query string and JSON body. */
export function restInput(route: RestRoute, params: Record<string, string>, query: Record<string, unknown>, body: unknown): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ ...query, ...params })) {
    if (typeof v !== 'string' || v === '') continue;
    if (route.numeric?.includes(k)) input[k] = /^-?\d+$/.test(v) ? Number(v) : v;
    else if (route.boolean?.includes(k)) input[k] = v === 'true' || v === '1';
    else input[k] = v;
  }
  if (body && typeof body === 'object' && !Array.isArray(body)) Object.assign(input, body);
  return input;
}

/** OpenAPI 3.1 description of the admin REST (Syncline routes plus the PowerSync-compatible ones). */
export function openApiDocument(serverUrl?: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of restRoutes) {
    const oaPath = r.path.replace(/:(\w+)/g, '{$1}');
    const pathParams = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const parameters = [
      ...pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: r.numeric?.includes(name) ? 'integer' : 'string' } })),
      ...(r.query ?? []).map((name) => ({ name, in: 'query', required: false, schema: { type: r.numeric?.includes(name) ? 'integer' : 'string' } })),
    ];
    paths[oaPath] ??= {};
    paths[oaPath][r.method.toLowerCase()] = {
      operationId: r.procedure,
      summary: r.summary,
      parameters,
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(r.body, { io: 'input' }) } } } } : {}),
      responses: {
        '200': { description: 'OK: `{"data": …}` (same shape as the tRPC procedure output)' },
        '400': { description: 'Invalid input (`SYNC_BAD_REQUEST`)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        '401': { description: 'Missing or wrong admin token (`SYNC_ADMIN_AUTH`)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        '404': { description: 'Not found (`SYNC_NOT_FOUND`)' },
      },
    };
  }
  const compat: Array<[string, string, string]> = [
    ['/api/sync-rules/v1/validate', 'post', 'PowerSync-compatible: validate YAML (raw body or {content})'],
    ['/api/sync-rules/v1/deploy', 'post', 'PowerSync-compatible: deploy YAML (raw body or {content})'],
    ['/api/sync-rules/v1/current', 'get', 'PowerSync-compatible: current and next version'],
    ['/api/admin/v1/diagnostics', 'post', 'PowerSync-compatible: connections, active/deploying rules, slots'],
  ];
  for (const [p, m, summary] of compat) {
    paths[p] ??= {};
    paths[p][m] = { summary, tags: ['powersync-compatible'], responses: { '200': { description: 'OK' }, '401': { description: 'Missing or wrong admin token' } } };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Syncline admin API', version: '1', description: 'Management API of Syncline. Every route needs `Authorization: Bearer <ADMIN_TOKEN>`. The same operations are available as the tRPC router at /api/trpc.' },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    security: [{ adminToken: [] }],
    components: {
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' } },
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, status: { type: 'integer' }, message: { type: 'string' } }, required: ['code', 'status', 'message'] } } },
      },
    },
    paths,
  };
}
