/**
 * A tiny HTTP server that replays scripted protocol lines — a fixture of the sync protocol for
 * unit tests before (and besides) the real Syncline server. Listens on 127.0.0.1, free port.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';

const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

export interface StreamRequest {
  body: {
    buckets: { name: string; after: string }[];
    client_id: string;
    parameters: Record<string, unknown>;
    raw_data: boolean;
    streams?: { include_defaults: boolean; subscriptions: { stream: string; parameters: Record<string, unknown> | null; override_priority: number | null }[] };
  };
  authorization: string | undefined;
}

export interface StreamHandle {
  request: StreamRequest;
  send(...lines: string[]): void;
  end(): void;
  readonly closed: boolean;
}

export class ScriptedSyncServer {
  private server: Server | undefined;
  private waiters: ((s: StreamHandle) => void)[] = [];
  readonly streams: StreamHandle[] = [];
  writeCheckpointRequests: { clientId: string | null; authorization: string | undefined }[] = [];
  nextWriteCheckpoint = 100;
  /** Status to answer the next stream requests with (then 200 again). */
  rejectNext: number[] = [];
  url = '';
  /** Bodies POSTed to `/upload` (the fixture's stand-in for an app backend). */
  readonly uploads: unknown[] = [];
  /** Applies an uploaded body (e.g. to Postgres) before `/upload` answers; a throw answers 500. */
  onUpload: ((body: unknown) => Promise<void>) | undefined;

  /** @param staticDir files served under `/` (for the browser test page). */
  constructor(private readonly staticDir?: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
    return this;
  }

  /** Resolves with the next stream request (or one already waiting). */
  nextStream(timeoutMs = 5000): Promise<StreamHandle> {
    const pending = this.streams.find((s) => !(s as { taken?: boolean }).taken);
    if (pending) {
      (pending as { taken?: boolean }).taken = true;
      return Promise.resolve(pending);
    }
    return new Promise((resolve, reject) => {
      const waiter = (s: StreamHandle): void => {
        clearTimeout(timer);
        (s as { taken?: boolean }).taken = true;
        resolve(s);
      };
      // A waiter that timed out must not swallow a later stream.
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error('no stream request arrived'));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/write-checkpoint2.json') {
      this.writeCheckpointRequests.push({ clientId: url.searchParams.get('client_id'), authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { write_checkpoint: String(this.nextWriteCheckpoint++) } }));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/sync/stream') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const reject = this.rejectNext.shift();
      if (reject !== undefined) {
        res.writeHead(reject, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'PSYNC_S2101', status: reject, description: 'rejected by fixture' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'x-accel-buffering': 'no' });
      res.flushHeaders();
      let closed = false;
      res.on('close', () => (closed = true));
      const handle: StreamHandle = {
        request: { body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as StreamRequest['body'], authorization: req.headers.authorization },
        send: (...lines) => {
          if (!closed) res.write(lines.map((l) => l + '\n').join(''));
        },
        end: () => {
          closed = true;
          res.end();
        },
        get closed() {
          return closed;
        },
      };
      this.streams.push(handle);
      const waiter = this.waiters.shift();
      waiter?.(handle);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/upload') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      try {
        await this.onUpload?.(body);
      } catch {
        res.writeHead(500).end();
        return;
      }
      this.uploads.push(body);
      res.writeHead(200).end();
      return;
    }
    if (req.method === 'GET' && this.staticDir) {
      const path = normalize(join(this.staticDir, url.pathname));
      if (path.startsWith(this.staticDir)) {
        try {
          const body = await readFile(path);
          res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream' });
          res.end(body);
          return;
        } catch {
          // fall through to 404
        }
      }
    }
    res.writeHead(404).end();
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
