/**
 * A client host of the cluster test: a child process (forked by `client-hosts.ts`) running a share
 * of the test's clients, so that 300 clients are not all paced by one busy test process. It answers
 * the test's requests over IPC (see client-host-protocol.ts) with what only the clients know: raw
 * clients' bucket positions and streams (moved-client counting, catch-up bytes), local tables
 * (the final comparison, done here against the expected rows the test sends), checksum problems.
 * It exits when the test closes it or when the IPC channel drops (the test process died): no orphans.
 */
// eslint-disable-next-line no-restricted-imports -- the cluster test mints dev tokens the way the service does
import { mintDevToken } from '../../../apps/sync-api/src/auth.ts';
import { checkClient } from '../../chaos/support/oracle.ts';
import { openClient, type ClientKind, type ClusterClient } from './cluster-clients.ts';
import { fromEpoch, toEpoch, type HostMessage, type HostMove, type HostRequest, type HostResults } from './client-host-protocol.ts';
import { countMoved } from './moved-clients.ts';
import { diffSnapshot } from './snapshot-diff.ts';

/**
 * Clients opened at once (SDK clients' connect is awaited per batch). Large: the writer runs from
 * the start and nothing compacts the op-log during the test, so a client's first sync is the
 * whole op history up to then — at 300 clients opened 10 at a time (130 s) the last raw clients
 * had 22,000–26,000 ops to download for ~3,300 rows, on API processes serving ~35 KB/s per stream.
 */
const OPEN_BATCH = 30;
const clients: ClusterClient[] = [];
const cpuAtStart = process.cpuUsage();
const startedAt = performance.now();
/** Highest op id a raw client of this host completed that was reported to the test. */
let reported = -1n;

const send = (m: HostMessage) => {
  if (process.connected) process.send!(m);
};

async function open(req: Extract<HostRequest, { op: 'open' }>): Promise<HostResults['open']> {
  const target = { url: req.url, token: async (u: string) => (await mintDevToken(req.jwtSecret, u)).token };
  for (let i = 0; i < req.clients.length; i += OPEN_BATCH) {
    const batch = req.clients.slice(i, i + OPEN_BATCH).map(async (spec) => {
      const c = await openClient(spec.kind, spec.userId, target, spec.index);
      if (c.raw) {
        // The failover probe: the first completion past everything reported so far is the first
        // completion of this host past any op id the test waits for (checkpoints only grow).
        c.raw.onComplete = (opId, at) => {
          if (opId <= reported) return;
          reported = opId;
          send({ event: 'complete', opId, at: toEpoch(at) });
        };
      }
      if (req.verbose) send({ event: 'progress', text: `opened ${c.kind} ${c.userId}` });
      return c;
    });
    clients.push(...(await Promise.all(batch)));
  }
  return { opened: clients.length };
}

function moves(req: Extract<HostRequest, { op: 'moves' }>): HostResults['moves'] {
  const raws = clients.filter((c) => c.raw);
  const onVictim = new Set(req.onVictim);
  const r = countMoved(raws, onVictim, fromEpoch(req.signalAt), (c) => c.raw!.clientId, (c) => c.raw!.samples);
  const moved: HostMove[] = r.moved.map(({ client: c, old, next }) => {
    let heldRows = 0;
    for (const b of c.raw!.buckets.values()) heldRows += b.rows.size;
    return {
      user: c.userId,
      clientId: c.raw!.clientId,
      endedCleanly: old.end!.clean,
      oldCompleted: old.firstComplete !== null,
      ops: next.catchUpOps,
      bytes: next.catchUpBytes,
      heldRows,
      resumeFrom: [...next.resumeFrom],
      firstComplete: { lastOpId: next.firstComplete!.lastOpId, buckets: next.firstComplete!.buckets },
    };
  });
  return { served: raws.filter((c) => onVictim.has(c.raw!.clientId)).length, moved, pending: r.pending.map((c) => `${c.userId} (${c.raw!.clientId})`) };
}

function sdkRatios(since: number): number[] {
  const t0 = fromEpoch(since);
  const ratios: number[] = [];
  for (const c of clients) {
    const first = c.streams.find((s) => s.bytesUntilComplete !== null);
    const after = c.streams.find((s) => s.openedAt >= t0 && s.bytesUntilComplete !== null);
    if (first && after && first !== after) ratios.push(after.bytesUntilComplete! / first.bytesUntilComplete!);
  }
  return ratios;
}

/** The raw clients against the oracle's storage verdict, one after another (as verifyAll does). */
async function verifyRaw(req: Extract<HostRequest, { op: 'verifyRaw' }>): Promise<HostResults['verifyRaw']> {
  const problems: string[] = [];
  let rowsChecked = 0;
  for (const c of clients) {
    if (!c.raw) continue;
    const r = await checkClient(c.raw, req, new Set(req.should[c.userId] ?? []), req.timeoutMs);
    problems.push(...r.problems);
    rowsChecked += r.rowsChecked;
  }
  return { problems, rowsChecked };
}

/** Every client's tables against SQL on the source; each gets `boundMs` to converge (all at once). */
async function converge(req: Extract<HostRequest, { op: 'converge' }>): Promise<HostResults['converge']> {
  const results = await Promise.all(
    clients.map(async (c) => {
      const e = req.expected[c.userId]!;
      const deadline = Date.now() + req.boundMs;
      let last = diffSnapshot(e, await c.snapshot());
      while (last !== null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        last = diffSnapshot(e, await c.snapshot());
      }
      return last === null ? null : `${c.kind} ${c.userId}: ${last} — not converged within ${req.boundMs} ms; ${await c.diagnose()}`;
    }),
  );
  return { mismatches: results.filter((m): m is string => m !== null) };
}

function summary(): HostResults['summary'] {
  const connects: Record<ClientKind, number> = { raw: 0, 'syncline-http': 0, 'syncline-ws': 0, 'powersync-http': 0, 'powersync-ws': 0 };
  for (const c of clients) connects[c.kind] += c.connects();
  const used = process.cpuUsage(cpuAtStart);
  return {
    checksumProblems: clients.flatMap((c) => c.checksumProblems().map((p) => `${c.kind} ${c.userId}: ${p}`)),
    serverErrorSamples: clients.flatMap((c) => c.raw?.stats.serverErrorSamples ?? []),
    connects,
    cpuPercent: Math.round(((used.user + used.system) / 1000 / (performance.now() - startedAt)) * 100),
    clients: clients.length,
  };
}

async function close(): Promise<HostResults['close']> {
  const n = clients.length;
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  return { closed: n };
}

async function handle(req: HostRequest): Promise<unknown> {
  switch (req.op) {
    case 'open':
      return open(req);
    case 'rawStatus': {
      const raws = clients.filter((c) => c.raw);
      const waiting = raws.filter((c) => c.raw!.lastComplete < 0n);
      return {
        raw: raws.length,
        completed: raws.length - waiting.length,
        waiting: await Promise.all(waiting.slice(0, 3).map(async (c) => `${c.raw!.clientId}: ${await c.diagnose()}`)),
        waitingIds: waiting.slice(0, 20).map((c) => c.raw!.clientId),
      } satisfies HostResults['rawStatus'];
    }
    case 'moves':
      return moves(req);
    case 'sdkRatios':
      return sdkRatios(req.since);
    case 'verifyRaw':
      return verifyRaw(req);
    case 'converge':
      return converge(req);
    case 'summary':
      return summary();
    case 'close':
      return close();
  }
}

process.on('message', (m: { id: number } & HostRequest) => {
  handle(m).then(
    (result) => send({ id: m.id, ok: true, result }),
    (e: unknown) => send({ id: m.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
  );
});
// The test process is gone (or closed the channel): close the clients and exit.
process.on('disconnect', () => {
  void close().finally(() => process.exit(0));
  setTimeout(() => process.exit(1), 5_000).unref();
});
