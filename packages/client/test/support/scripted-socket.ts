/**
 * A scripted RSocket-over-WebSocket peer for unit tests: implements the browser WebSocket subset
 * the client uses, decodes what the client sends with the shared codec, and lets the test answer
 * with frames. `ScriptedSocket.next()` hands out the next socket the client opened.
 */
import { serialize } from 'bson';
import { FrameFlags, FrameType, decodeRSocketFrame, encodeCompleteFrame, encodeErrorFrame, encodePayloadFrame, type RSocketFrame } from '@syncline/protocol';

type Listener = (event: never) => void;

export class ScriptedSocket {
  static opened: ScriptedSocket[] = [];
  private static waiters: ((s: ScriptedSocket) => void)[] = [];
  /** When set, sockets fail to open (error + close) instead. */
  static refuse = false;

  static next(): Promise<ScriptedSocket> {
    const ready = ScriptedSocket.opened.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => ScriptedSocket.waiters.push(resolve));
  }

  static reset(): void {
    ScriptedSocket.opened = [];
    ScriptedSocket.waiters = [];
    ScriptedSocket.refuse = false;
  }

  binaryType = 'blob';
  readyState = 0;
  readonly received: RSocketFrame[] = [];
  /** Total REQUEST_N credits the client granted on stream 1 (REQUEST_STREAM's initial N included). */
  credits = 0;
  sent = 0;
  closed: { code?: number } | undefined;
  onFrame: ((frame: RSocketFrame) => void) | undefined;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {
    setTimeout(() => {
      if (ScriptedSocket.refuse) {
        this.emit('error', {});
        this.emit('close', { code: 1006 });
        return;
      }
      this.readyState = 1;
      this.emit('open', {});
      const waiter = ScriptedSocket.waiters.shift();
      if (waiter) waiter(this);
      else ScriptedSocket.opened.push(this);
    }, 0);
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  private emit(type: string, event: unknown): void {
    for (const l of this.listeners.get(type) ?? []) (l as (e: unknown) => void)(event);
  }

  send(data: Uint8Array): void {
    const frame = decodeRSocketFrame(new Uint8Array(data));
    this.received.push(frame);
    if (frame.type === FrameType.REQUEST_STREAM || frame.type === FrameType.REQUEST_N) this.credits += frame.requestN;
    this.onFrame?.(frame);
  }

  close(code?: number): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closed = { code };
    setTimeout(() => this.emit('close', { code: code ?? 1005 }), 0);
  }

  /** Server → client frame. */
  deliver(frame: Uint8Array): void {
    if (this.readyState !== 1) return;
    const copy = frame.slice().buffer;
    this.emit('message', { data: copy });
  }

  /** Sends one sync line (JSON text) as a BSON PAYLOAD, ignoring credits. */
  sendLine(line: string): void {
    this.sent++;
    this.deliver(encodePayloadFrame(1, { data: serialize(JSON.parse(line) as Record<string, unknown>) }));
  }

  /** Sends queued lines while credits last; the rest wait for REQUEST_N (as the real server does). */
  serve(lines: string[], done?: () => void): void {
    const pump = (): void => {
      while (lines.length > 0 && this.sent < this.credits) this.sendLine(lines.shift()!);
      if (lines.length === 0) {
        this.deliver(encodeCompleteFrame(1));
        done?.();
      }
    };
    this.onFrame = (f) => {
      if (f.type === FrameType.REQUEST_STREAM || f.type === FrameType.REQUEST_N) pump();
    };
    pump();
  }

  error(streamId: number, body: unknown): void {
    this.deliver(encodeErrorFrame(streamId, streamId === 0 ? 0x003 : 0x201, JSON.stringify(body)));
  }

  requestedStream(): { metadata: unknown; data: Uint8Array } | undefined {
    const f = this.received.find((x) => x.type === FrameType.REQUEST_STREAM);
    return f && f.type === FrameType.REQUEST_STREAM ? { metadata: f.metadata, data: f.data } : undefined;
  }

  get setup(): Extract<RSocketFrame, { type: typeof FrameType.SETUP }> | undefined {
    const f = this.received[0];
    return f?.type === FrameType.SETUP ? f : undefined;
  }
}

export const NEXT = FrameFlags.NEXT;
