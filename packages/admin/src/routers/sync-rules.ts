/** Sync rules: validate, current, history, one version, diff, deploy, roll back, impact preview (per stream, sample users with subscriptions), migrate to Sync Streams. */
import { z } from 'zod';
import {
  compileSyncRules,
  deployRules,
  diffLines,
  diffStats,
  diffVersions,
  getVersionContent,
  listVersionHistory,
  MAX_SAMPLE_USERS,
  migrateSyncRulesToStreams,
  previewImpact,
  streamOutline,
  rollbackToVersion,
} from '@syncline/engine';
import { ServiceError } from '@syncline/protocol';
import { userInput } from '../inputs.ts';
import { adminProcedure, createTRPCRouter } from '../trpc.ts';

/** Sync-rules YAML is bounded like any request body. */
export const yamlContent = z.string().max(512 * 1024);
const versionId = z.number().int().positive();

export const syncRulesRouter = createTRPCRouter({
  /** Issues with 1-based line/column; schema-aware (warns about unknown tables/columns) when the source is reachable. */
  validate: adminProcedure.input(z.object({ content: yamlContent, schemaAware: z.boolean().default(true) })).query(async ({ ctx, input }) => {
    const schema = input.schemaAware ? await ctx.sourceSchema() : null;
    const { rules, issues } = compileSyncRules(input.content, { versionId: 0, ...(schema ? { schema } : {}) });
    return {
      valid: rules !== null && !issues.some((i) => i.level === 'fatal'),
      issues,
      definitions: rules ? rules.definitions.map((d) => ({ name: d.name, priority: d.priority, bucketParameters: [...d.bucketParameters], parameterQueries: d.parameterQueryCount, dataQueries: d.dataQueryCount })) : [],
      sourceTables: rules ? rules.sourceTables().map((p) => `${p.schema}.${p.tablePattern}${p.isWildcard ? '%' : ''}`) : [],
      /** Edition and declared streams / definitions, read from the YAML (also while it has errors). */
      outline: streamOutline(input.content),
    };
  }),

  /** Newest versions first with state, comment, times and snapshot progress. */
  history: adminProcedure
    .input(z.object({ limit: z.number().int().min(1).max(500).default(50), before: versionId.optional() }).default({ limit: 50 }))
    .query(({ ctx, input }) => listVersionHistory(ctx.deps.storage, input)),

  /** The serving (ACTIVE) and the deploying (PROCESSING) version, with content. */
  current: adminProcedure.query(async ({ ctx }) => {
    const history = await listVersionHistory(ctx.deps.storage, { limit: 20 });
    const active = history.find((v) => v.state === 'ACTIVE' || v.state === 'ERRORED') ?? null;
    const next = history.find((v) => v.state === 'PROCESSING') ?? null;
    const content = active ? (await getVersionContent(ctx.deps.storage, active.id)).content : null;
    return { active, next, activeContent: content };
  }),

  version: adminProcedure.input(z.object({ id: versionId })).query(({ ctx, input }) => getVersionContent(ctx.deps.storage, input.id)),

  diff: adminProcedure.input(z.object({ from: versionId, to: versionId })).query(({ ctx, input }) => diffVersions(ctx.deps.storage, input.from, input.to)),

  deploy: adminProcedure
    .input(z.object({ content: yamlContent, comment: z.string().max(500).nullish(), source: z.enum(['api', 'dashboard']).default('api').describe('Recorded as the version\'s provenance: the dashboard sends "dashboard".') }))
    .mutation(({ ctx, input }) => deployRules(ctx.deps.storage, input.content, input.comment ?? null, input.source)),

  /** Deploys an earlier version's content as a new version. */
  rollback: adminProcedure
    .input(z.object({ id: versionId, comment: z.string().max(500).nullish() }))
    .mutation(({ ctx, input }) => rollbackToVersion(ctx.deps.storage, input.id, input.comment)),

  /**
   * A Sync Streams (edition 3) draft of `content` (default: the active version's YAML) with the
   * line diff from it and the migration issues. Stores nothing: the operator deploys the draft.
   */
  migrateToStreams: adminProcedure.input(z.object({ content: yamlContent.optional() }).default({})).mutation(async ({ ctx, input }) => {
    let source = input.content;
    if (source === undefined) {
      const history = await listVersionHistory(ctx.deps.storage, { limit: 20 });
      const active = history.find((v) => v.state === 'ACTIVE' || v.state === 'ERRORED');
      if (!active) throw new ServiceError('NOT_FOUND', 'No sync rules are deployed; pass the YAML to migrate as `content`.');
      source = (await getVersionContent(ctx.deps.storage, active.id)).content;
    }
    const result = migrateSyncRulesToStreams(source);
    const diff = result.yaml === '' ? [] : diffLines(source, result.yaml);
    return { source, content: result.yaml, diff, ...diffStats(diff), issues: result.issues, streams: result.streams, ok: result.yaml !== '' && !result.issues.some((i) => i.level === 'fatal') };
  }),

  /** Per definition / stream, buckets and rows the candidate would produce vs the active rules (sampled for big tables). */
  impact: adminProcedure
    .input(
      z.object({
        content: yamlContent,
        rowLimitPerTable: z.number().int().min(100).max(1_000_000).default(20_000),
        /** Sample users (with stream subscriptions): per stream, the buckets and rows each would sync. */
        users: z.array(userInput.omit({ versionId: true })).max(MAX_SAMPLE_USERS).default([]),
      }),
    )
    .mutation(({ ctx, input }) => previewImpact(ctx.deps, input.content, { rowLimitPerTable: input.rowLimitPerTable, users: input.users })),
});
