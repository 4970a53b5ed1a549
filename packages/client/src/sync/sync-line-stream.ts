/**
 * One open sync stream, whatever the transport: parsed lines in order, and `applied(n)` telling
 * the transport that `n` more of them took effect locally (the WebSocket transport grants
 * REQUEST_N credits from it; HTTP has no flow control and ignores it).
 */
import type { SyncLine } from './sync-lines.ts';
import { parseSyncLineText } from './sync-lines.ts';

export type SyncTransport = 'websocket' | 'http';

export interface SyncLineStream {
  readonly transport: SyncTransport;
  readonly lines: AsyncIterable<{ line: SyncLine; size: number }>;
  /** Lines the stream lets the consumer hold unapplied before it stops delivering (none: unbounded). */
  readonly window?: number;
  applied(n: number): void;
}

/** Wraps NDJSON text lines (HTTP) as a line stream. */
export function textLineStream(text: AsyncIterable<{ text: string; size: number }>): SyncLineStream {
  async function* lines(): AsyncGenerator<{ line: SyncLine; size: number }> {
    for await (const { text: t, size } of text) yield { line: parseSyncLineText(t), size };
  }
  return { transport: 'http', lines: lines(), applied: () => undefined };
}
