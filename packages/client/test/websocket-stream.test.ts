/**
 * The WebSocket transport against a scripted RSocket peer: SETUP/REQUEST_STREAM as the service
 * expects them, BSON lines parsed like NDJSON ones, REQUEST_N granted only as lines are applied
 * (a slow consumer keeps at most `window` lines), errors mapped to client errors, and an
 * unopenable socket reported as unavailable (the client then falls back to HTTP).
 */
import { deserialize } from 'bson';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameType } from '@syncline/protocol';
import { FlowWindow } from '../src/sync/flow-window.ts';
import { batchBounds } from '../src/sync/sync-client.ts';
import { openWebSocketStream, WebSocketUnavailableError, webSocketUrl, type WebSocketConstructor } from '../src/sync/websocket-stream.ts';
import { isSynclineError } from '../src/errors.ts';
import { lines, putOp } from './scripted-lines.ts';
import { ScriptedSocket } from './support/scripted-socket.ts';

const WS = ScriptedSocket as unknown as WebSocketConstructor;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function open(window = 16, signal = new AbortController().signal, onUnauthorized?: () => void) {
  return openWebSocketStream({
    WebSocket: WS,
    endpoint: 'http://127.0.0.1:1',
    token: 'jwt-abc',
    userAgent: 'test-agent',
    request: { buckets: [{ name: 'b', after: '5' }], client_id: 'c1' },
    signal,
    window,
    onUnauthorized,
  });
}

afterEach(() => ScriptedSocket.reset());

describe('FlowWindow', () => {
  it('never lets granted-but-unreceived plus unapplied lines exceed the window', () => {
    const w = new FlowWindow(8);
    expect(w.initial()).toBe(8);
    for (let i = 0; i < 4; i++) w.onReceived();
    expect(w.onApplied(1)).toBe(0); // below a quarter of the window while the server has credit: wait
    expect(w.onApplied(1)).toBe(2);
    expect(w.outstanding + w.unapplied).toBe(8);
    for (let i = 0; i < 6; i++) w.onReceived();
    expect(() => w.onReceived()).toThrow(/more lines than requested/);
    expect(w.maxUnapplied).toBe(8);
    expect(w.onApplied(8)).toBe(8);
    expect(w.outstanding).toBe(8);
  });

  it('grants the last free credit when the server has none left', () => {
    const w = new FlowWindow(8);
    w.initial();
    for (let i = 0; i < 8; i++) w.onReceived();
    // 7 applied in singles: grants come in batches of ≥ 2 …
    let granted = 0;
    for (let i = 0; i < 7; i++) granted += w.onApplied(1);
    // … yet the server is never left without credit while the client has room.
    expect(w.outstanding).toBeGreaterThan(0);
    expect(granted).toBe(w.outstanding);
  });

  it('lets a consumer that batches data lines (batchBounds) always complete its batch, whatever lines come between', () => {
    // The server sends while it has credit; the consumer applies other lines at once and data lines
    // a batch at a time. It must never wait for a line the server has no credit to send.
    for (const window of [16, 17, 20, 31, 32, 64]) {
      const batchLines = batchBounds({ window }).lines;
      for (let seed = 1; seed <= 50; seed++) {
        let x = seed;
        const kinds = Array.from({ length: 400 }, () => ((x = (x * 48271) % 2147483647) % 5 === 0 ? 'other' : 'data'));
        const w = new FlowWindow(window);
        w.initial();
        const received: string[] = [];
        let sent = 0;
        let consumed = 0;
        let batch = 0;
        while (consumed < kinds.length) {
          if (w.outstanding > 0 && sent < kinds.length) {
            w.onReceived();
            received.push(kinds[sent++]!);
          } else if (consumed < received.length) {
            const kind = received[consumed++]!;
            if (kind === 'data' && ++batch < batchLines && consumed < kinds.length) continue;
            if (kind === 'data') {
              w.onApplied(batch);
            } else {
              if (batch > 0) w.onApplied(batch);
              w.onApplied(1);
            }
            batch = 0;
          } else {
            throw new Error(`window ${window}, seed ${seed}: consumer waits for line ${consumed + 1} with ${batch} batched, server has no credit`);
          }
        }
      }
    }
  });

  it('rejects a window that is not a positive integer', () => {
    expect(() => new FlowWindow(0)).toThrow(/positive integer/);
  });
});

describe('openWebSocketStream with a scripted RSocket peer', () => {
  it('sends SETUP with the token in BSON metadata and the sync request on stream 1', async () => {
    const opening = open(16);
    const socket = await ScriptedSocket.next();
    await opening;
    expect(socket.url).toBe('ws://127.0.0.1:1/sync/stream');
    expect(webSocketUrl('https://x.example/api')).toBe('wss://x.example/api/sync/stream');
    const setup = socket.setup!;
    expect(setup.metadataMimeType).toBe('application/bson');
    expect(setup.dataMimeType).toBe('application/bson');
    expect(deserialize(setup.metadata!)).toEqual({ token: 'Token jwt-abc', user_agent: 'test-agent' });
    const req = socket.received[1]!;
    expect(req.type).toBe(FrameType.REQUEST_STREAM);
    if (req.type !== FrameType.REQUEST_STREAM) return;
    expect(req.streamId).toBe(1);
    expect(req.requestN).toBe(16);
    expect(deserialize(req.metadata!)).toEqual({ path: '/sync/stream' });
    expect(deserialize(req.data)).toEqual({ buckets: [{ name: 'b', after: '5' }], client_id: 'c1' });
  });

  it('parses BSON lines like NDJSON ones and ends at COMPLETE', async () => {
    const opening = open(16);
    const socket = await ScriptedSocket.next();
    const stream = await opening;
    const op = putOp(7, 'todos', 't1', { description: 'Milk' });
    socket.serve([lines.checkpoint(7, [{ bucket: 'b', ops: [op] }]), lines.data('b', [op]), lines.complete(7)]);
    const got = [];
    for await (const { line, size } of stream.lines) {
      got.push(line.type);
      expect(size).toBeGreaterThan(0);
      if (line.type === 'data') expect(line.ops[0]).toMatchObject({ opId: 7n, op: 'PUT', objectId: 't1', data: op.data });
      stream.applied(1);
    }
    expect(got).toEqual(['checkpoint', 'data', 'checkpoint_complete']);
  });

  it('keeps at most `window` lines unapplied with a slow consumer, and grants only as lines are applied', async () => {
    const window = 16;
    const opening = open(window);
    const socket = await ScriptedSocket.next();
    const stream = await opening;
    const total = 300;
    const fixture = Array.from({ length: total }, (_, i) => lines.data('b', [putOp(i + 1, 'todos', `t${i}`, { description: 'x'.repeat(100) })]));
    let applied = 0;
    let worstGrantAhead = 0;
    const inner = socket.onFrame;
    socket.serve(fixture);
    const serveFrame = socket.onFrame!;
    socket.onFrame = (f) => {
      // The client asks for more only for lines it has applied.
      worstGrantAhead = Math.max(worstGrantAhead, socket.credits - applied);
      serveFrame(f);
    };
    expect(inner).toBeUndefined();
    let received = 0;
    for await (const { line } of stream.lines) {
      expect(line.type).toBe('data');
      received++;
      // The server never got ahead of the credits (it would be a protocol error otherwise).
      expect(socket.sent - applied).toBeLessThanOrEqual(window);
      await sleep(received % 50 === 0 ? 30 : 1); // a deliberately slow apply
      applied++;
      stream.applied(1);
    }
    expect(received).toBe(total);
    expect(stream.flow.maxUnapplied).toBeLessThanOrEqual(window);
    expect(worstGrantAhead).toBeLessThanOrEqual(window);
    expect(socket.received.filter((f) => f.type === FrameType.REQUEST_N).length).toBeGreaterThan(total / window);
  });

  it('pauses the server while the consumer applies nothing', async () => {
    const opening = open(16);
    const socket = await ScriptedSocket.next();
    const stream = await opening;
    socket.serve(Array.from({ length: 100 }, (_, i) => lines.data('b', [putOp(i + 1, 'todos', `t${i}`, {})])));
    const it = stream.lines[Symbol.asyncIterator]();
    await it.next(); // taken but never reported applied
    await sleep(50);
    expect(socket.sent).toBe(16);
    expect(socket.received.filter((f) => f.type === FrameType.REQUEST_N)).toHaveLength(0);
    await it.return?.(undefined);
    expect(socket.received.at(-1)?.type).toBe(FrameType.CANCEL);
  });

  it('fails with PROTOCOL_ERROR when the server sends beyond its credits', async () => {
    const opening = open(16);
    const socket = await ScriptedSocket.next();
    const stream = await opening;
    for (let i = 0; i < 17; i++) socket.sendLine(lines.complete(1));
    const err = await (async () => {
      for await (const _ of stream.lines) {
        // not applied
      }
    })().catch((e: unknown) => e);
    expect(isSynclineError(err, 'PROTOCOL_ERROR')).toBe(true);
  });

  it('maps an ERROR with status 401 to UNAUTHORIZED and invalidates the credentials', async () => {
    let invalidated = 0;
    const opening = open(16, new AbortController().signal, () => invalidated++);
    const socket = await ScriptedSocket.next();
    const stream = await opening;
    socket.error(1, { code: 'AUTH_EXPIRED', status: 401, message: 'Token has expired' });
    const err = await (async () => {
      for await (const _ of stream.lines) {
        // none
      }
    })().catch((e: unknown) => e);
    expect(isSynclineError(err, 'UNAUTHORIZED')).toBe(true);
    expect(String(err)).toContain('AUTH_EXPIRED');
    expect(invalidated).toBe(1);
  });

  it('maps other service errors and a closed socket to retryable errors', async () => {
    const opening = open(16);
    const socket = await ScriptedSocket.next();
    const stream = await opening;
    socket.error(0, { code: 'TOO_MANY_STREAMS', status: 429, message: 'retry later' });
    const err = await (async () => {
      for await (const _ of stream.lines) {
        // none
      }
    })().catch((e: unknown) => e);
    expect(isSynclineError(err, 'HTTP_ERROR')).toBe(true);
    expect(String(err)).toContain('TOO_MANY_STREAMS');

    const opening2 = open(16);
    const socket2 = await ScriptedSocket.next();
    const stream2 = await opening2;
    socket2.close(1006);
    const err2 = await (async () => {
      for await (const _ of stream2.lines) {
        // none
      }
    })().catch((e: unknown) => e);
    expect(isSynclineError(err2, 'NETWORK_ERROR')).toBe(true);
  });

  it('reports a socket that cannot open as WebSocketUnavailableError', async () => {
    ScriptedSocket.refuse = true;
    await expect(open(16)).rejects.toBeInstanceOf(WebSocketUnavailableError);
  });

  it('cancels the stream and closes the socket on abort', async () => {
    const controller = new AbortController();
    const opening = open(16, controller.signal);
    const socket = await ScriptedSocket.next();
    const stream = await opening;
    const reading = (async () => {
      for await (const _ of stream.lines) {
        // none
      }
    })().catch((e: unknown) => e);
    controller.abort();
    expect(isSynclineError(await reading, 'ABORTED')).toBe(true);
    expect(socket.received.some((f) => f.type === FrameType.CANCEL)).toBe(true);
    expect(socket.closed?.code).toBe(1000);
  });
});
