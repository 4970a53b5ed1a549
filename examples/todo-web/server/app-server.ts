/**
 * The example's HTTP server (node:http): the built app as static files, `POST /api/upload` (one
 * CRUD transaction per request, see apply-upload.ts), `GET /api/config` (where the sync API is)
 * `GET /api/shell-files` (what the service worker precaches) and, in dev mode, `POST /api/auth/dev-token` (sign in as a demo user).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { Pool } from 'pg';
import { applyUpload } from './apply-upload.ts';
import { signDevToken, verifyBearer, type TokenKeys } from './auth.ts';
import { parseUploadBatch } from './upload-batch.ts';
import { UploadError } from './upload-errors.ts';

export interface AppServerOptions {
  pool: Pool;
  keys: TokenKeys;
  syncUrl: string;
  distDir: string;
  devMode: boolean;
  /** One line per upload and per failure (never tokens). */
  log?: (entry: Record<string, unknown>) => void;
}

const MAX_BODY = 1024 * 1024;
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new UploadError('MALFORMED_BATCH', `The body exceeds ${MAX_BODY} bytes; upload one transaction per request.`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new UploadError('MALFORMED_BATCH', 'The body is not valid JSON.');
  }
}

async function serveStatic(res: ServerResponse, distDir: string, urlPath: string): Promise<void> {
  const rel = normalize(decodeURIComponent(urlPath)).replace(/^([/\\])+/, '');
  let file = join(distDir, rel);
  if (!file.startsWith(distDir + sep) && file !== distDir) throw new UploadError('NOT_FOUND', 'Not found.');
  const info = await stat(file).catch(() => null);
  // Single-page app: unknown paths without an extension get index.html.
  if (!info?.isFile()) {
    if (extname(rel)) throw new UploadError('NOT_FOUND', `No file ${urlPath}.`);
    file = join(distDir, 'index.html');
  }
  const body = await readFile(file).catch(() => {
    throw new UploadError('NOT_FOUND', `No built app in ${distDir}; run \`npm run build\` in examples/todo-web.`);
  });
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': file.endsWith('index.html') ? 'no-cache' : 'public, max-age=3600' });
  res.end(body);
}

export function createAppServer(o: AppServerOptions): Server {
  const log = o.log ?? (() => undefined);
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = `${req.method} ${url.pathname}`;
    const handle = async (): Promise<void> => {
      if (route === 'POST /api/upload') {
        const userId = await verifyBearer(req.headers.authorization, o.keys);
        const batch = parseUploadBatch(await readJson(req));
        const result = await applyUpload(o.pool, userId, batch);
        log({ msg: 'upload', user: userId, client: batch.clientId, batch: batch.batchId, ops: result.ops, applied: result.applied });
        sendJson(res, 200, { data: result });
      } else if (route === 'GET /api/shell-files') {
        const files = (await readdir(o.distDir, { recursive: true, withFileTypes: true }).catch(() => []))
          .filter((f) => f.isFile() && f.name !== 'sw.js')
          .map((f) => `/${join(f.parentPath, f.name).slice(o.distDir.length + 1).split(sep).join('/')}`);
        sendJson(res, 200, { data: { files } });
      } else if (route === 'GET /api/config') {
        sendJson(res, 200, { data: { sync_url: o.syncUrl, dev_mode: o.devMode } });
      } else if (route === 'POST /api/auth/dev-token' && o.devMode) {
        const body = (await readJson(req)) as { user_id?: unknown };
        if (typeof body?.user_id !== 'string' || !/^[\w.@-]{1,64}$/.test(body.user_id)) throw new UploadError('MALFORMED_BATCH', 'user_id must be 1-64 letters, digits or ._@-.');
        const { token, expiresAt } = await signDevToken(body.user_id, o.keys);
        sendJson(res, 200, { data: { token, expires_at: expiresAt.toISOString(), user_id: body.user_id } });
      } else if (req.method === 'GET' || req.method === 'HEAD') {
        await serveStatic(res, o.distDir, url.pathname);
      } else {
        throw new UploadError('NOT_FOUND', `${route} is not served here.`);
      }
    };
    handle().catch((e: unknown) => {
      if (e instanceof UploadError) {
        if (e.status !== 404) log({ msg: 'rejected', route, code: e.code, reason: e.message });
        sendJson(res, e.status, e.toJSON());
      } else {
        log({ msg: 'failed', route, reason: e instanceof Error ? e.message : String(e) });
        sendJson(res, 500, { code: 'INTERNAL', message: 'The write could not be applied right now; the app retries it.' });
      }
    });
  });
}
