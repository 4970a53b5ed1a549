/**
 * Compaction admin REST (issue 8), all behind `Authorization: Bearer <ADMIN_TOKEN>`:
 * - `POST /api/admin/v1/compact` `{buckets?: string[]}` → compacts the given buckets of the serving
 *   version, or every fragmented one, and returns what was done;
 * - `POST /api/admin/v1/defragment` `{bucket}` → re-emits the bucket's live rows and compacts it;
 * - `GET /api/admin/v1/fragmentation?limit=50` → buckets ranked by ops per live row and by size.
 * Runs through the process's Compactor when it has one (unified/replicator runners), else directly;
 * either way one run per version at a time across processes (409 while another runs).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ServiceError } from '@syncline/protocol';
import { CompactionError, compactionToServiceError, defragmentBucket, getFragmentationReport, getServingVersion, runCompaction, type BucketCompactionStats, type CompactionRunReport } from '@syncline/engine';
import { checkAdminToken } from '../auth.ts';
import type { Services } from '../services.ts';
import { parseBody } from './sync-routes.ts';

const CompactBody = z
  .object({ buckets: z.array(z.string().min(1).max(1000)).min(1).max(10_000).optional().describe('Buckets to compact; default: every fragmented bucket') })
  .strict();
const DefragmentBody = z.object({ bucket: z.string().min(1).max(1000).describe('Bucket id in the serving version') }).strict();
const FragmentationQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(50).describe('Rows per ranking') });


const statsJson = (b: BucketCompactionStats) => ({
  bucket: b.bucket,
  scanned: b.scanned,
  moved: b.moved,
  removed: b.removed,
  bytes_freed: b.bytesFreed,
});

const runJson = (r: CompactionRunReport) => ({
  version_id: r.versionId,
  checkpoint: r.checkpoint,
  buckets: r.buckets.map(statsJson),
  parameters: r.parameters,
  duration_ms: r.durationMs,
});

export function registerCompactionRoutes(app: FastifyInstance, s: Services): void {
  const admin = async (req: FastifyRequest) => checkAdminToken(req.headers.authorization, s.config.ADMIN_TOKEN);

  app.post('/api/admin/v1/compact', { preHandler: admin }, async (req) => {
    const body = parseBody(CompactBody, req.body ?? {});
    try {
      const report = s.compactor ? await s.compactor.compactNow({ buckets: body.buckets }) : await runCompaction(s.storage, { buckets: body.buckets });
      req.log.info({ version: report.versionId, buckets: report.buckets.length }, 'compaction requested');
      return { data: runJson(report) };
    } catch (e) {
      throw compactionToServiceError(e);
    }
  });

  app.post('/api/admin/v1/defragment', { preHandler: admin }, async (req) => {
    const { bucket } = parseBody(DefragmentBody, req.body);
    try {
      let result;
      if (s.compactor) result = await s.compactor.defragment(bucket);
      else {
        const v = await getServingVersion(s.storage);
        if (!v) throw new CompactionError('NO_ACTIVE_VERSION', 'No served sync-rules version: nothing to defragment.');
        result = await defragmentBucket(s.storage, v.id, bucket);
      }
      req.log.info({ version: result.versionId, bucket, rows: result.rowsEmitted }, 'bucket defragmented');
      return {
        data: {
          version_id: result.versionId,
          bucket: result.bucket,
          rows_emitted: result.rowsEmitted,
          checkpoint: result.checkpoint,
          before: statsJson(result.before),
          after: result.after ? statsJson(result.after) : null,
        },
      };
    } catch (e) {
      throw compactionToServiceError(e);
    }
  });

  app.get('/api/admin/v1/fragmentation', { preHandler: admin }, async (req) => {
    const { limit } = parseBody(FragmentationQuery, req.query);
    const report = await getFragmentationReport(s.storage, undefined, { limit });
    if (!report) throw new ServiceError('NO_SYNC_RULES', 'No served sync-rules version yet: deploy sync rules first.');
    return { data: { ...report, compactor: s.compactor?.getStatus() ?? null } };
  });
}
