/**
 * Client-facing sync endpoints: `POST /sync/stream` (NDJSON or BSON stream, optional gzip),
 * `GET /write-checkpoint2.json`, `POST /sync/checkpoint-request`.
 */
import type { Writable } from 'node:stream';
import { constants as zlibConstants, createGzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError, streamingSyncRequestSchema, type StreamingSyncRequest, type SyncLine } from '@syncline/protocol';
import { createWriteCheckpoint, currentWalLsn, emitKeepaliveMessage, normalizeLsn, requestCheckpoint, streamSyncLines } from '@syncline/engine';
import { z } from 'zod';
import { TokenVerifier, type VerifiedToken } from '../auth.ts';
import { BSON_STREAM, NDJSON, encodeLine, encodeNdjsonLine, negotiateFormat } from '../line-encoding.ts';
import { RateLimiter } from '../rate-limiter.ts';
import { armTokenExpiry } from '../token-expiry.ts';
import type { Services } from '../services.ts';

/** Retry-After (seconds) on stream requests refused while the process drains. */
export const DRAIN_RETRY_AFTER_SECONDS = 1;

/** Bytes of protocol lines held back before one socket write (see openStream). */
const FLUSH_BYTES = 64 * 1024;

export async function authenticate(s: Services, req: FastifyRequest): Promise<VerifiedToken> {
  try {
    return await s.verifier.verify(TokenVerifier.fromHeader(req.headers.authorization));
  } catch (e) {
    s.metrics.authFailures++;
    throw e;
  }
}

export function registerSyncRoutes(app: FastifyInstance, s: Services): void {
  // Every write checkpoint reads the source WAL head and writes a WAL message: bounded per user
  // (not per client_id, which the client chooses).
  const writeCheckpointLimit = new RateLimiter(s.config.WRITE_CHECKPOINTS_PER_MINUTE);
  const limitWriteCheckpoints = (reply: FastifyReply, userId: string) => {
    const d = writeCheckpointLimit.take(userId);
    if (d.allowed) return;
    reply.header('retry-after', String(d.retryAfterSeconds));
    throw new ServiceError(
      'RATE_LIMITED',
      `Too many write checkpoints for this user (WRITE_CHECKPOINTS_PER_MINUTE = ${s.config.WRITE_CHECKPOINTS_PER_MINUTE}); retry after ${d.retryAfterSeconds} s.`,
    );
  };

  app.post('/sync/stream', async (req, reply) => {
    const token = await authenticate(s, req);
    const request = parseBody(streamingSyncRequestSchema, req.body ?? {});
    return openStream(s, req, reply, token, request);
  });

  app.get('/write-checkpoint2.json', async (req, reply) => {
    const token = await authenticate(s, req);
    limitWriteCheckpoints(reply, token.userId);
    const { client_id } = parseBody(z.object({ client_id: z.string().max(256).optional() }), req.query);
    const userKey = client_id ? `${token.userId}/${client_id}` : token.userId;
    const id = await createReplicationHead(s, (head) => createWriteCheckpoint(s.storage, userKey, head));
    s.metrics.writeCheckpoints++;
    return { data: { write_checkpoint: id.toString() } };
  });

  app.post('/sync/checkpoint-request', async (req, reply) => {
    const token = await authenticate(s, req);
    limitWriteCheckpoints(reply, token.userId);
    const body = parseBody(
      z.object({
        client_id: z.string().max(256),
        checkpoint_request_id: z.union([z.number().int().positive(), z.string().regex(/^[1-9]\d{0,18}$/)]),
      }),
      req.body ?? {},
    );
    const requested = BigInt(body.checkpoint_request_id);
    if (requested > 9223372036854775807n) throw new ServiceError('BAD_REQUEST', 'checkpoint_request_id must be at most 9223372036854775807');
    const id = await createReplicationHead(s, (head) => requestCheckpoint(s.storage, `${token.userId}/${body.client_id}`, requested, head));
    return { data: { checkpoint_request_id: id.toString() } };
  });
}

/** Reads the source WAL head, stores the write checkpoint against it, then emits a WAL message so
 * an idle database still produces a record past the head and replication advances. */
async function createReplicationHead<T>(s: Services, store: (headLsn: string) => Promise<T>): Promise<T> {
  const head = normalizeLsn(await currentWalLsn(s.source));
  const result = await store(head);
  await emitKeepaliveMessage(s.source);
  return result;
}

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new ServiceError('BAD_REQUEST', `Invalid request: ${first?.path.join('.') || 'body'}: ${first?.message ?? 'invalid'}`);
  }
  return r.data;
}

async function openStream(s: Services, req: FastifyRequest, reply: FastifyReply, token: VerifiedToken, request: StreamingSyncRequest) {
  if (!s.watcher) throw new ServiceError('NOT_FOUND', 'This process runs only the replicator (SYNC_RUNNER=replicator); connect to an API process.');
  if (s.shuttingDown) {
    reply.header('retry-after', String(DRAIN_RETRY_AFTER_SECONDS));
    throw new ServiceError('DRAINING', `This process is draining before it exits; retry in ${DRAIN_RETRY_AFTER_SECONDS} s (another process will serve you).`);
  }
  if (s.connections.size >= s.config.MAX_CONCURRENT_STREAMS) {
    throw new ServiceError('TOO_MANY_STREAMS', `This process already serves ${s.config.MAX_CONCURRENT_STREAMS} streams (MAX_CONCURRENT_STREAMS); retry later.`);
  }
  const serving = s.watcher.current() ?? (await s.watcher.waitForCheckpoint(5_000));
  if (!serving) throw new ServiceError('NO_SYNC_RULES', 'No sync rules are active yet: deploy sync rules, or wait until the first version finishes its snapshot.');

  const format = negotiateFormat(req.headers.accept);
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const rawData = format === 'bson' || request.raw_data === true;
  const abort = new AbortController();
  const userAgent = String(req.headers['x-user-agent'] ?? req.headers['user-agent'] ?? '');
  // The registry row is inserted (batched with other connections) while the first line is computed.
  const { id: connectionId, inserted } = s.connections.registerBatched(
    { userId: token.userId, clientId: request.client_id ?? null, userAgent, transport: 'http', versionId: serving.version.id },
    abort,
  );
  s.metrics.streamsOpened++;
  const log = s.logger.child({ rid: req.id, user: token.userId, client: request.client_id });
  const started = Date.now();
  let bytes = 0;
  let ops = 0;
  let lines = 0;
  let reason = 'client_closed';

  const generator = streamSyncLines({
    watcher: s.watcher,
    rulesFor: s.rulesFor,
    request,
    userId: token.userId,
    claims: token.claims,
    tokenExpiresAt: token.expiresAt,
    signal: abort.signal,
    logger: log,
    keepalives: true,
    maxBuckets: s.config.MAX_BUCKETS_PER_CONNECTION,
    maxParameterResults: s.config.MAX_PARAMETER_RESULTS_PER_CONNECTION,
    onProgress: (p) => {
      s.metrics.opsSent += p.ops - ops;
      ops = p.ops;
      s.connections.update(connectionId, { bucketCount: p.buckets, opsSent: p.ops, lastCheckpoint: p.checkpoint, bytesSent: bytes });
    },
  });

  // The first line is produced before any header is sent, so errors such as too many buckets
  // still get a proper status and JSON body.
  let first: IteratorResult<SyncLine, string>;
  try {
    first = await generator.next();
    await inserted;
  } catch (e) {
    abort.abort();
    void generator.return('closed').catch(() => {});
    await s.connections.unregister(connectionId);
    s.metrics.streamsClosed++;
    throw e;
  }

  // The response is written directly (no Readable/pipe layers): lines of one checkpoint are
  // coalesced into one write until a line the client acts on ((partial) checkpoint complete,
  // keepalive) or FLUSH_BYTES — with many connections, one socket write per checkpoint instead of
  // one per line. Backpressure: when a write reports a full buffer, the next line is not pulled out
  // of the generator until the sink drains (or the stream closes), so a slow client never makes
  // the server buffer more than socket buffers and FLUSH_BYTES plus one line — beyond its share of
  // the process's write-ahead budget (write-ahead.ts): a client busy storing a batch reads nothing
  // meanwhile, and the server keeps reading and encoding ahead within that bound.
  // NDJSON lines other than data lines are held as text and converted to bytes once per write;
  // NDJSON data lines (encoded as bytes, see line-encoding.ts) and BSON lines as buffers.
  let held: Buffer[] = [];
  let heldText = '';
  let heldBytes = 0;
  const holdText = () => {
    if (heldText.length === 0) return;
    held.push(Buffer.from(heldText));
    heldText = '';
  };
  const takeHeld = () => {
    holdText();
    const out = held.length === 1 ? held[0]! : Buffer.concat(held);
    bytes += out.length;
    s.metrics.bytesSent += out.length;
    held = [];
    heldBytes = 0;
    return out;
  };
  const res = reply.raw;
  const ahead = s.writeAhead.stream();
  const cleanup = () => {
    if (abort.signal.aborted && reason !== 'client_closed') return;
    abort.abort();
    void generator.return('closed').catch(() => {});
  };
  req.raw.on('close', cleanup);
  // A client that stopped reading never pulls the final token_expires_in line: close it after exp.
  const disarmExpiry = armTokenExpiry(token.expiresAt, () => {
    reason = 'token_expired';
    abort.abort();
    void generator.return('token_expired').catch(() => {});
    res.destroy();
  });
  res.on('error', () => {});
  res.on('close', () => {
    ahead.release();
    disarmExpiry();
    cleanup();
    s.metrics.streamsClosed++;
    void s.connections.unregister(connectionId);
    // Closed while draining before its end was flushed: cut at the drain timeout (or the client left).
    // With write-ahead a stream of a client that stopped reading can reach its end (reason
    // 'draining') while its last bytes still wait in the response: that, too, is a cut.
    if (s.shuttingDown && (reason === 'client_closed' || (reason === 'draining' && !res.writableFinished))) reason = 'drain_cut';
    log.info({ durationMs: Date.now() - started, lines, ops, bytes, reason, format, gzip }, 'sync stream closed');
  });

  reply.hijack();
  const headers: Record<string, string | number | string[]> = {};
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v as string | number | string[];
  headers['content-type'] = format === 'bson' ? BSON_STREAM : NDJSON;
  headers['x-accel-buffering'] = 'no';
  headers['cache-control'] = 'no-store';
  if (gzip) headers['content-encoding'] = 'gzip';
  res.writeHead(200, headers);
  let sink: NodeJS.WritableStream & { destroyed: boolean; writableEnded: boolean; writableLength: number; once: Writable['once']; off: Writable['off'] } = res;
  if (gzip) {
    const z = createGzip({ flush: zlibConstants.Z_SYNC_FLUSH, level: 6 });
    z.on('error', () => res.destroy());
    z.pipe(res);
    sink = z;
  }
  const closed = () => res.destroyed || sink.destroyed;
  const waitDrain = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        sink.off('drain', done);
        sink.off('close', done);
        res.off('close', done);
        abort.signal.removeEventListener('abort', done);
        resolve();
      };
      sink.once('drain', done);
      sink.once('close', done);
      res.once('close', done);
      abort.signal.addEventListener('abort', done, { once: true });
    });
  const write = async (chunk: Buffer) => {
    if (closed()) return;
    const buffered = sink.write(chunk) ? 0 : sink.writableLength;
    if (ahead.mayContinue(buffered)) return;
    await waitDrain();
    ahead.release();
  };

  void (async () => {
    try {
      for (let next = first; ; next = await generator.next()) {
        if (next.done) {
          // Drain ends every stream through its abort signal: a clean end the client reconnects after.
          reason = next.value === 'aborted' && s.shuttingDown ? 'draining' : next.value;
          break;
        }
        const line = next.value;
        // heldBytes decides when to flush (characters for NDJSON: close enough); bytes are counted per write.
        if (format === 'ndjson') {
          const encoded = encodeNdjsonLine(line, rawData);
          if (typeof encoded === 'string') heldText += encoded;
          else {
            holdText();
            held.push(encoded);
          }
          heldBytes += encoded.length;
        } else {
          const chunk = encodeLine(line, format, rawData);
          held.push(chunk);
          heldBytes += chunk.length;
        }
        lines++;
        if (heldBytes >= FLUSH_BYTES || !('data' in line || 'checkpoint' in line || 'checkpoint_diff' in line)) {
          await write(takeHeld());
          if (closed()) break;
        }
      }
      if (heldBytes > 0 && !closed()) sink.write(takeHeld());
      if (!res.destroyed && !sink.writableEnded) sink.end();
    } catch (e) {
      reason = e instanceof ServiceError ? e.code : 'error';
      if (!(e instanceof ServiceError)) log.error({ err: e }, 'sync stream failed');
      else log.warn({ code: e.code }, e.message);
      // Errors after the response started end the body abruptly; clients retry with backoff.
      if (heldBytes > 0 && !closed()) sink.write(takeHeld(), () => res.destroy());
      else res.destroy();
    }
  })();
}
