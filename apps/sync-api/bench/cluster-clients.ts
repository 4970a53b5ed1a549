/**
 * A child process of the cluster-scale bench holding many raw HTTP sync streams, so the bench's
 * clients are spread over several processes and are not the bottleneck. Driven over IPC:
 *
 *   child  → { type: 'ready' }                                      loaded, listening for commands
 *   parent → { type: 'open', urls, tokens, concurrency }          open one stream per token, spread
 *            round-robin over `urls` (keep-alive agents, at most `concurrency` not yet complete)
 *   child  → { type: 'opened', firsts, errors }                    ms from open to the first
 *            checkpoint_complete per stream, and the first few errors
 *   parent → { type: 'watch', marker }                             look for a data line with `marker`
 *   child  → { type: 'watching' }
 *   child  → { type: 'seen', marker, at, urls, firstLineAt }        `at`: absolute ms (timeOrigin +
 *            now) at which each stream got the checkpoint_complete after that data line, `urls` the
 *            API process (index) of each; `firstLineAt` the first checkpoint line after `watch`
 *   parent → { type: 'flush' }                                      send `seen` now with what arrived (timeout)
 *   parent → { type: 'close' }                                      close everything and exit
 *
 * Lines are scanned by prefix, never parsed (a client SDK parses; this measures the server).
 */
import http from 'node:http';

type Msg =
  | { type: 'open'; urls: string[]; tokens: string[]; concurrency: number }
  | { type: 'watch'; marker: string }
  | { type: 'flush' }
  | { type: 'close' };

const now = () => performance.timeOrigin + performance.now();
const send = (m: unknown) => process.send!(m);

interface Stream {
  url: number;
  /** The watched marker was seen in a data line; waiting for the complete. */
  seen: boolean;
  req: http.ClientRequest | null;
}

const streams: Stream[] = [];
let watch: { marker: string; at: number[]; urls: number[]; firstLineAt: number; pending: number } | null = null;

function finishWatch(): void {
  const w = watch!;
  watch = null;
  send({ type: 'seen', marker: w.marker, at: w.at, urls: w.urls, firstLineAt: w.firstLineAt });
}

function onLine(s: Stream, line: string): void {
  const w = watch;
  if (!w) return;
  if (!w.firstLineAt && (line.startsWith('{"checkpoint_diff"') || line.startsWith('{"checkpoint"'))) w.firstLineAt = now();
  if (line.startsWith('{"data"')) {
    if (line.includes(w.marker)) s.seen = true;
  } else if (s.seen && line.startsWith('{"checkpoint_complete"')) {
    s.seen = false;
    w.at.push(now());
    w.urls.push(s.url);
    if (--w.pending === 0) finishWatch();
  }
}

function open(agent: http.Agent, url: string, urlIndex: number, token: string): Promise<number> {
  const s: Stream = { url: urlIndex, seen: false, req: null };
  const started = now();
  return new Promise<number>((resolve, reject) => {
    const u = new URL('/sync/stream', url);
    const body = '{"raw_data":true,"buckets":[]}';
    const req = http.request(
      { agent, host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: `Token ${token}`, 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`status ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        let buf = '';
        let first = true;
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (first && line.startsWith('{"checkpoint_complete"')) {
              first = false;
              streams.push(s);
              resolve(now() - started);
            }
            onLine(s, line);
          }
        });
        res.on('error', () => {});
        res.on('end', () => reject(new Error('stream ended')));
      },
    );
    s.req = req;
    req.on('error', (e) => reject(e));
    req.end(body);
  });
}

process.on('message', (m: Msg) => {
  if (m.type === 'open') {
    void (async () => {
      const agents = m.urls.map(() => new http.Agent({ keepAlive: true, maxSockets: Infinity }));
      const tokens = m.tokens;
      const firsts: number[] = [];
      const errors: string[] = [];
      let next = 0;
      const lane = async () => {
        while (next < tokens.length) {
          const i = next++;
          const at = i % m.urls.length;
          try {
            firsts.push(await withTimeout(open(agents[at]!, m.urls[at]!, at, tokens[i]!), 180_000));
          } catch (e) {
            if (errors.length < 5) errors.push((e as Error).message);
            else errors.push('');
          }
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, m.concurrency) }, lane));
      send({ type: 'opened', firsts, errors: errors.length, firstErrors: errors.filter(Boolean) });
    })();
  } else if (m.type === 'watch') {
    for (const s of streams) s.seen = false;
    watch = { marker: m.marker, at: [], urls: [], firstLineAt: 0, pending: streams.length };
    send({ type: 'watching' });
  } else if (m.type === 'flush') {
    if (watch) finishWatch();
  } else if (m.type === 'close') {
    if (watch) finishWatch();
    for (const s of streams) s.req?.destroy();
    process.exit(0);
  }
});

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`no checkpoint_complete within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

send({ type: 'ready' });
