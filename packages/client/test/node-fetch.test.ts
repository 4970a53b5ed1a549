import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost, nodeFetch } from '../src/adapters/node/node-fetch.ts';
import { ndjsonLines } from '../src/sync/ndjson.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let handler: Handler = (_req, res) => res.end();
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const fetch = nodeFetch({ fallback: () => Promise.reject(new Error('fallback used')) });

async function collect(body: ReadableStream<Uint8Array>): Promise<string[]> {
  const lines: string[] = [];
  for await (const { text } of ndjsonLines(body)) lines.push(text);
  return lines;
}

describe('nodeFetch', () => {
  it('sends method, headers and body; returns status, headers and body', async () => {
    let seen: { method?: string; auth?: string; type?: string; encoding?: string; body?: string } = {};
    handler = (req, res, body) => {
      seen = { method: req.method, auth: req.headers.authorization, type: req.headers['content-type'], encoding: req.headers['accept-encoding'], body };
      res.writeHead(201, { 'content-type': 'application/json', 'x-multi': ['a', 'b'] });
      res.end('{"ok":true}');
    };
    const res = await fetch(`${base}/x`, { method: 'POST', headers: { authorization: 'Token t', 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-multi')).toBe('a, b');
    expect(await res.json()).toEqual({ ok: true });
    // Loopback: no compression asked for.
    expect(seen).toEqual({ method: 'POST', auth: 'Token t', type: 'application/json', encoding: 'identity', body: '{"a":1}' });
  });

  it('returns error statuses as responses with their body (401, 404, 500) and empty-body statuses', async () => {
    for (const status of [401, 404, 500]) {
      handler = (_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: `E${status}` } }));
      };
      const res = await fetch(`${base}/e`, { method: 'GET' });
      expect(res.status).toBe(status);
      expect(res.ok).toBe(false);
      expect(await res.text()).toBe(`{"error":{"code":"E${status}"}}`);
    }
    handler = (_req, res) => {
      res.writeHead(204);
      res.end();
    };
    const empty = await fetch(`${base}/e`, { method: 'GET' });
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it('inflates a gzip response when gzip was asked for (and drops the encoding headers)', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ n: i, pad: 'x'.repeat(50) }));
    handler = (req, res) => {
      const gzip = req.headers['accept-encoding'] === 'gzip';
      const payload = Buffer.from(lines.join('\n') + '\n');
      res.writeHead(200, gzip ? { 'content-encoding': 'gzip' } : {});
      res.end(gzip ? gzipSync(payload) : payload);
    };
    const res = await fetch(`${base}/gz`, { method: 'GET', headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(await collect(res.body!)).toEqual(lines);
  });

  it('delivers lines split at any byte across chunks, including inside multi-byte characters', async () => {
    const lines = ['{"a":"äöü€𝄞"}', '{"b":"' + 'y'.repeat(70_000) + '"}', '{"c":3}'];
    const bytes = Buffer.from(lines.join('\n') + '\n');
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      // Cut points inside the € / 𝄞 sequences and in the middle of the long line.
      const cuts = [0, 9, 13, 17, 40_000, bytes.length - 2, bytes.length];
      const write = (i: number): void => {
        if (i + 1 >= cuts.length) return void res.end();
        res.write(bytes.subarray(cuts[i], cuts[i + 1]));
        setTimeout(() => write(i + 1), 5);
      };
      write(0);
    };
    const res = await fetch(`${base}/chunks`, { method: 'POST', body: '{}' });
    expect(await collect(res.body!)).toEqual(lines);
  });

  it('rejects with the abort reason when aborted before the response and errors the body when aborted during it', async () => {
    handler = () => undefined; // never answers
    const before = new AbortController();
    const pending = fetch(`${base}/slow`, { method: 'GET', signal: before.signal });
    setTimeout(() => before.abort(new Error('stop now')), 20);
    await expect(pending).rejects.toThrow('stop now');
    await expect(fetch(`${base}/slow`, { method: 'GET', signal: AbortSignal.abort() })).rejects.toThrow();

    handler = (_req, res) => {
      res.writeHead(200);
      res.write('{"first":1}\n');
    };
    const during = new AbortController();
    const res = await fetch(`${base}/open`, { method: 'GET', signal: during.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('{"first":1}\n');
    during.abort(new Error('aborted mid-body'));
    await expect(reader.read()).rejects.toThrow('aborted mid-body');
  });

  it('rejects when the server cannot be reached, and errors the body when the connection dies before its end', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(fetch(`http://127.0.0.1:${port}/`, { method: 'GET' })).rejects.toThrow(TypeError);

    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('{"partial":true}\n');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const res = await fetch(`${base}/cut`, { method: 'GET' });
    await expect(collect(res.body!)).rejects.toThrow(/terminated/);
  });

  it('follows redirects (303 turns a POST into a GET) and drops authorization across origins only', async () => {
    const seen: { url?: string; method?: string; auth?: string | undefined }[] = [];
    handler = (req, res) => {
      seen.push({ url: req.url, method: req.method, auth: req.headers.authorization });
      if (req.url === '/a') {
        res.writeHead(307, { location: '/b' });
        return void res.end();
      }
      if (req.url === '/b') {
        res.writeHead(303, { location: `http://localhost:${(server.address() as AddressInfo).port}/c` });
        return void res.end();
      }
      res.end('done');
    };
    const res = await fetch(`${base}/a`, { method: 'POST', headers: { authorization: 'Token t' }, body: 'x' });
    expect(await res.text()).toBe('done');
    expect(seen).toEqual([
      { url: '/a', method: 'POST', auth: 'Token t' },
      { url: '/b', method: 'POST', auth: 'Token t' },
      { url: '/c', method: 'GET', auth: undefined },
    ]);
  });

  it('keeps an accept-encoding the request sets, tells loopback hosts from others and hands other schemes to the fallback', async () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('sync.example.com')).toBe(false);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    let encoding: string | undefined;
    handler = (req, res) => {
      encoding = req.headers['accept-encoding'];
      res.end();
    };
    await (await fetch(`${base}/enc`, { method: 'GET', headers: { 'accept-encoding': 'br' } })).text();
    expect(encoding).toBe('br');
    const viaFallback = nodeFetch({ fallback: async () => new Response('from fallback') });
    expect(await (await viaFallback('data:text/plain,hi', { method: 'GET' })).text()).toBe('from fallback');
  });
});
