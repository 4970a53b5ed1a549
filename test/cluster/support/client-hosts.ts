/**
 * The client hosts of the cluster test, from the test's side: `count` child processes
 * (`client-host.ts` through tsx), the clients dealt round-robin over them so every host runs a mix
 * of kinds, and one method per question the test asks — each host answers for its clients and the
 * answers are merged. A host that dies fails every pending request with its exit and output tail.
 * `close()` (also the async disposal) closes the clients and ends the hosts, SIGKILL after a grace
 * period; the hosts also exit by themselves when the test process goes away.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '@syncline/test-utils';
import type { ClientKind, Snapshot } from './cluster-clients.ts';
import { fromEpoch, toEpoch, type HostClientSpec, type HostMessage, type HostMove, type HostRequest, type HostResults } from './client-host-protocol.ts';

const HOST_SCRIPT = fileURLToPath(new URL('./client-host.ts', import.meta.url));

/** Hosts for `clients` clients: about `perHost` each, at least one, at most `max`. */
export function hostCount(clients: number, perHost = 60, max = 6): number {
  return Math.max(1, Math.min(max, Math.ceil(clients / perHost)));
}

interface Host {
  name: string;
  child: ChildProcess;
  specs: HostClientSpec[];
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
  tail: string[];
  exited: Promise<number | null>;
}

export interface ClientHosts extends AsyncDisposable {
  readonly count: number;
  /** Process ids of the hosts. */
  pids(): number[];
  /** Opens every client (each host in batches of 30). */
  open(clients: HostClientSpec[], url: string, jwtSecret: string): Promise<number>;
  /** Called with (op id, this process's performance.now()) when a raw client completes a checkpoint past every one reported before. */
  onComplete: ((opId: bigint, at: number) => void) | null;
  rawStatus(): Promise<HostResults['rawStatus']>;
  /** Raw clients the victim served (by client_id) that moved since `signalAt` (performance.now() of this process). */
  moves(onVictim: ReadonlySet<string>, signalAt: number): Promise<HostResults['moves']>;
  sdkRatios(since: number): Promise<number[]>;
  verifyRaw(req: Omit<Extract<HostRequest, { op: 'verifyRaw' }>, 'op'>): Promise<HostResults['verifyRaw']>;
  converge(expected: Map<string, Snapshot>, boundMs: number): Promise<string[]>;
  summary(): Promise<{ checksumProblems: string[]; serverErrorSamples: string[]; connects: Record<ClientKind, number>; cpuPercent: number[]; clients: number }>;
  close(): Promise<void>;
}

export async function startClientHosts(count: number, progress: (m: string) => void): Promise<ClientHosts> {
  let nextId = 0;
  let closing: Promise<void> | null = null;
  const hosts: Host[] = [];
  const killAll = () => {
    for (const h of hosts) if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL');
  };
  // The test process exiting without closing (a crash, a timeout kill): no orphans.
  process.once('exit', killAll);

  for (let i = 0; i < count; i++) {
    const name = `client-host-${i + 1}`;
    const child = fork(HOST_SCRIPT, [], {
      cwd: REPO_ROOT,
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const host: Host = {
      name,
      child,
      specs: [],
      pending: new Map(),
      tail: [],
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)))),
    };
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        host.tail.push(line.slice(0, 500));
        if (host.tail.length > 40) host.tail.shift();
        if (process.env.CLUSTER_VERBOSE) progress(`${name}: ${line.slice(0, 300)}`);
      }
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('message', (m: HostMessage) => {
      if ('event' in m) {
        if (m.event === 'complete') hostsApi.onComplete?.(m.opId, fromEpoch(m.at));
        else progress(`${name}: ${m.text}`);
        return;
      }
      const p = host.pending.get(m.id);
      if (!p) return;
      host.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${name}: ${m.error}`));
    });
    void host.exited.then((code) => {
      const err = new Error(`${name} exited (${code}) with requests pending; last output:\n${host.tail.join('\n')}`);
      for (const p of host.pending.values()) p.reject(err);
      host.pending.clear();
    });
    hosts.push(host);
  }

  function ask<K extends HostRequest['op']>(host: Host, req: Extract<HostRequest, { op: K }>): Promise<HostResults[K]> {
    return new Promise((resolve, reject) => {
      if (!host.child.connected) return reject(new Error(`${host.name} is not running; last output:\n${host.tail.join('\n')}`));
      const id = ++nextId;
      host.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      host.child.send({ id, ...req });
    });
  }
  const askAll = <K extends HostRequest['op']>(req: Extract<HostRequest, { op: K }>) => Promise.all(hosts.map((h) => ask(h, req)));

  const closeAll = async () => {
    const graceful = Promise.allSettled(hosts.filter((h) => h.child.connected).map((h) => ask(h, { op: 'close' }).finally(() => h.child.disconnect())));
    const timeout = new Promise((r) => setTimeout(r, 30_000).unref());
    await Promise.race([graceful, timeout]);
    const exits = Promise.all(hosts.map((h) => h.exited));
    const grace = setTimeout(killAll, 10_000);
    await exits;
    clearTimeout(grace);
    process.removeListener('exit', killAll);
  };

  const hostsApi: ClientHosts = {
    count,
    pids: () => hosts.map((h) => h.child.pid!),
    onComplete: null,
    async open(specs, url, jwtSecret) {
      specs.forEach((s, i) => hosts[i % count]!.specs.push(s));
      const verbose = Boolean(process.env.CLUSTER_VERBOSE);
      const opened = await Promise.all(hosts.map((h) => ask(h, { op: 'open', clients: h.specs, url, jwtSecret, verbose })));
      return opened.reduce((a, r) => a + r.opened, 0);
    },
    async rawStatus() {
      const all = await askAll({ op: 'rawStatus' });
      return { raw: all.reduce((a, r) => a + r.raw, 0), completed: all.reduce((a, r) => a + r.completed, 0), waiting: all.flatMap((r) => r.waiting), waitingIds: all.flatMap((r) => r.waitingIds) };
    },
    async moves(onVictim, signalAt) {
      const all = await askAll({ op: 'moves', onVictim: [...onVictim], signalAt: toEpoch(signalAt) });
      return { served: all.reduce((a, r) => a + r.served, 0), moved: all.flatMap((r): HostMove[] => r.moved), pending: all.flatMap((r) => r.pending) };
    },
    async sdkRatios(since) {
      return (await askAll({ op: 'sdkRatios', since: toEpoch(since) })).flat();
    },
    async verifyRaw(req) {
      const all = await askAll({ op: 'verifyRaw', ...req });
      return { problems: all.flatMap((r) => r.problems), rowsChecked: all.reduce((a, r) => a + r.rowsChecked, 0) };
    },
    async converge(expected, boundMs) {
      const all = await Promise.all(
        hosts.map((h) => {
          const mine: Record<string, Snapshot> = {};
          for (const s of h.specs) mine[s.userId] = expected.get(s.userId)!;
          return ask(h, { op: 'converge', expected: mine, boundMs });
        }),
      );
      return all.flatMap((r) => r.mismatches);
    },
    async summary() {
      const all = await askAll({ op: 'summary' });
      const connects: Record<ClientKind, number> = { raw: 0, 'syncline-http': 0, 'syncline-ws': 0, 'powersync-http': 0, 'powersync-ws': 0 };
      for (const r of all) for (const [k, n] of Object.entries(r.connects)) connects[k as ClientKind] += n;
      return {
        checksumProblems: all.flatMap((r) => r.checksumProblems),
        serverErrorSamples: all.flatMap((r) => r.serverErrorSamples),
        connects,
        cpuPercent: all.map((r) => r.cpuPercent),
        clients: all.reduce((a, r) => a + r.clients, 0),
      };
    },
    close() {
      closing ??= closeAll();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return hostsApi.close();
    },
  };
  return hostsApi;
}
