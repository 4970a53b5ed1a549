/**
 * Recording a sync stream and replaying it from a file-serving process (`stream-replay-server.ts`):
 * the client-download bench measures the client alone with them.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import path from 'node:path';

/**
 * Records what the server sends a fresh client (identity encoding), from the first line up to and
 * including the first `checkpoint_complete`, into `file`; returns its size in bytes.
 */
export async function recordStream(url: string, token: string, file: string): Promise<number> {
  const controller = new AbortController();
  const res = await fetch(`${url}/sync/stream`, {
    method: 'POST',
    headers: { authorization: `Token ${token}`, 'content-type': 'application/json', 'accept-encoding': 'identity' },
    body: JSON.stringify({ raw_data: true, buckets: [], client_id: 'bench-recording' }),
    signal: controller.signal,
  });
  if (!res.ok || !res.body) throw new Error(`recording the stream failed: ${res.status}`);
  const out = createWriteStream(file);
  const reader = res.body.getReader();
  let head = '';
  let bytes = 0;
  const write = async (chunk: Uint8Array): Promise<void> => {
    bytes += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error('the stream ended before its first checkpoint_complete');
      let start = 0;
      for (let nl = value.indexOf(10); nl !== -1; nl = value.indexOf(10, start)) {
        if (head.length < 24) head += Buffer.from(value.subarray(start, Math.min(nl, start + 24))).toString('latin1');
        if (head.startsWith('{"checkpoint_complete"')) {
          await write(value.subarray(0, nl + 1));
          return bytes;
        }
        head = '';
        start = nl + 1;
      }
      if (head.length < 24) head += Buffer.from(value.subarray(start, Math.min(value.length, start + 24))).toString('latin1');
      await write(value);
    }
  } finally {
    controller.abort();
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
}

/** Starts `stream-replay-server.ts` on `file` in its own process. */
export async function startReplayServer(file: string): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'stream-replay-server.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exit = once(child, 'exit');
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replay server not listening within 30 s: ${output}`)), 30_000);
    child.stdout!.on('data', (b: Buffer) => {
      output += b.toString();
      const m = /port (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exit.then(() => reject(new Error(`replay server exited: ${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exit;
    },
  };
}
