/**
 * Splits a byte stream into text lines (NDJSON framing): `\n`-separated, blank lines skipped, a
 * final line without newline accepted at the end. `size` is the line's length in UTF-16 units + 1
 * (used only for the downloaded-size counter).
 */
export async function* ndjsonLines(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<{ text: string; size: number }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const onAbort = (): void => {
    void reader.cancel().catch(() => undefined);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let start = 0;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const text = buffer.slice(start, newline);
        start = newline + 1;
        if (text.trim().length > 0) yield { text, size: text.length + 1 };
        newline = buffer.indexOf('\n', start);
      }
      if (start > 0) buffer = buffer.slice(start);
    }
    buffer += decoder.decode();
    if (buffer.trim().length > 0) yield { text: buffer, size: buffer.length };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.releaseLock();
  }
}
