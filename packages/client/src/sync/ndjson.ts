/**
 * Splits a byte stream into text lines (NDJSON framing): `\n`-separated, blank lines skipped, a
 * final line without newline accepted at the end. `size` is the line's length in UTF-16 units + 1
 * (used only for the downloaded-size counter).
 *
 * Works on bytes: each chunk is searched for `\n` once (only the new chunk, never the pending
 * part of a long line again), and each complete line is decoded once from its bytes. A line
 * spanning chunks keeps its pieces as a list until its newline arrives, so a 1 MB line in 16 KB
 * chunks costs one copy, not one rescan per chunk. `\n` (0x0A) never occurs inside a multi-byte
 * UTF-8 sequence, so splitting bytes at it never splits a character.
 */
const NEWLINE = 0x0a;

/** Incremental byte-level line splitter (pure; `ndjsonLines` drives it from a stream). */
export class NdjsonSplitter {
  private readonly decoder = new TextDecoder();
  /** Pieces of the current incomplete line, in order. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  /** Feeds one chunk; returns the complete lines it ended (blank lines skipped). */
  push(chunk: Uint8Array): string[] {
    const lines: string[] = [];
    let start = 0;
    let newline = chunk.indexOf(NEWLINE);
    while (newline >= 0) {
      this.emit(this.take(chunk.subarray(start, newline)), lines);
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) {
      // The reader may reuse the chunk's memory: keep a copy of the unfinished tail.
      this.pending.push(chunk.slice(start));
      this.pendingBytes += chunk.length - start;
    }
    return lines;
  }

  /** Ends the input; returns the final line if it had no newline. */
  end(): string[] {
    const lines: string[] = [];
    if (this.pendingBytes > 0) this.emit(this.take(new Uint8Array(0)), lines);
    return lines;
  }

  /** The pending pieces plus `tail`, as one byte range (no copy when nothing is pending). */
  private take(tail: Uint8Array): Uint8Array {
    if (this.pending.length === 0) return tail;
    const bytes = new Uint8Array(this.pendingBytes + tail.length);
    let at = 0;
    for (const piece of this.pending) {
      bytes.set(piece, at);
      at += piece.length;
    }
    bytes.set(tail, at);
    this.pending = [];
    this.pendingBytes = 0;
    return bytes;
  }

  private emit(bytes: Uint8Array, lines: string[]): void {
    if (bytes.length === 0) return;
    const text = this.decoder.decode(bytes);
    if (isBlank(text)) return;
    lines.push(text);
  }
}

/** Whitespace only (checked without trimming a copy of a long line). */
function isBlank(text: string): boolean {
  const first = text.charCodeAt(0);
  // '{' or '[' or '"' or a digit: the common case, decided on the first character.
  if (first > 0x20 && first !== 0xa0 && first !== 0xfeff) return false;
  return text.trim().length === 0;
}

export async function* ndjsonLines(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<{ text: string; size: number }> {
  const reader = body.getReader();
  const splitter = new NdjsonSplitter();
  const onAbort = (): void => {
    void reader.cancel().catch(() => undefined);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const text of splitter.push(value)) yield { text, size: text.length + 1 };
    }
    for (const text of splitter.end()) yield { text, size: text.length };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.releaseLock();
  }
}
