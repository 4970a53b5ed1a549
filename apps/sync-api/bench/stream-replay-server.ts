/**
 * Serves a recorded sync stream: every `POST /sync/stream` gets the recorded NDJSON bytes (read
 * from the file in argv[2]), and the response then stays open like a live stream's until the
 * client closes it. Run as its own process by the client-download bench, so a client can be
 * measured without the sync API and Postgres taking CPU from it (see `benchClientDownload`).
 * Prints `port <n>` on stdout once it listens on 127.0.0.1.
 */
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';

const recording = process.argv[2];
if (!recording) throw new Error('usage: stream-replay-server.ts <recorded-stream.ndjson>');

const server = createServer((req, res) => {
  req.resume();
  if (req.method !== 'POST' || req.url?.split('?')[0] !== '/sync/stream') {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"only /sync/stream is replayed"}}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  const file = createReadStream(recording, { highWaterMark: 256 * 1024 });
  file.pipe(res, { end: false });
  file.once('error', (e) => res.destroy(e));
  res.once('close', () => file.destroy());
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`port ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
