/**
 * Same-origin tRPC endpoint for the browser: checks the dashboard session, then forwards the call to
 * `{SYNC_API_URL}/api/trpc/<path>` with the admin token added here, so page scripts never hold it.
 */
import type { NextRequest } from 'next/server';
import { syncApiUrl } from '@/env.ts';
import { isSameOriginRequest } from '@/lib/same-origin.ts';
import { readSession, SESSION_COOKIE } from '@/lib/session.ts';
import { describeFetchError, syncApiFetch } from '@/lib/sync-api-fetch.ts';

export const dynamic = 'force-dynamic';

const MAX_REQUEST_BYTES = 1024 * 1024;
const UPSTREAM_HEADERS_TIMEOUT_MS = 15_000;
const PROCEDURE_PATH = /^[A-Za-z0-9_.,-]{1,2000}$/;
const FORWARDED_REQUEST_HEADERS = ['content-type', 'accept', 'trpc-accept', 'trpc-batch-mode', 'x-trpc-source', 'last-event-id'];
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'cache-control', 'vary', 'trpc-accept'];

type RouteContext = { params: Promise<{ trpc: string }> };

function trpcError(status: number, code: string, message: string): Response {
  return Response.json(
    { error: { message, code: -32000, data: { code, httpStatus: status } } },
    { status, headers: { 'cache-control': 'no-store' } },
  );
}

async function forward(req: NextRequest, ctx: RouteContext): Promise<Response> {
  if (!readSession(req.cookies.get(SESSION_COOKIE)?.value)) {
    return trpcError(401, 'UNAUTHORIZED', 'Not logged in to the dashboard.');
  }
  if (req.method !== 'GET' && !isSameOriginRequest(req.headers)) {
    return trpcError(403, 'FORBIDDEN', 'Cross-origin request refused.');
  }
  const { trpc } = await ctx.params;
  if (!PROCEDURE_PATH.test(trpc)) return trpcError(400, 'BAD_REQUEST', 'Invalid procedure path.');

  let body: ArrayBuffer | null = null;
  if (req.method === 'POST') {
    const declared = Number(req.headers.get('content-length') ?? '0');
    if (declared > MAX_REQUEST_BYTES) return trpcError(413, 'PAYLOAD_TOO_LARGE', 'Request body too large.');
    body = await req.arrayBuffer();
    if (body.byteLength > MAX_REQUEST_BYTES) return trpcError(413, 'PAYLOAD_TOO_LARGE', 'Request body too large.');
  }

  const headers = new Headers();
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers.get(name);
    if (value !== null) headers.set(name, value);
  }

  let upstream: Response;
  try {
    upstream = await syncApiFetch(`/api/trpc/${trpc}${req.nextUrl.search}`, {
      method: req.method,
      headers,
      body,
      withAdminToken: true,
      signal: req.signal,
      timeoutMs: UPSTREAM_HEADERS_TIMEOUT_MS,
    });
  } catch (e) {
    return trpcError(502, 'BAD_GATEWAY', `Sync API unreachable at ${syncApiUrl()} (${describeFetchError(e)}).`);
  }

  const out = new Headers({ 'cache-control': 'no-store' });
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) out.set(name, value);
  }
  return new Response(upstream.body, { status: upstream.status, headers: out });
}

export function GET(req: NextRequest, ctx: RouteContext): Promise<Response> {
  return forward(req, ctx);
}

export function POST(req: NextRequest, ctx: RouteContext): Promise<Response> {
  return forward(req, ctx);
}
