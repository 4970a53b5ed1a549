/**
 * The faults of the cluster test and what each one measures: replicator failover time (fault →
 * the next new checkpoint in storage, and → the next one a client completes), API drain time, and for every client that moved to
 * another API process, what it downloaded to catch up compared with what changed in its buckets
 * since its positions (counted in storage).
 */
import type { Cluster } from './cluster.ts';
import { waitFor } from './cluster.ts';
import type { ClientHosts } from './client-hosts.ts';
import type { HostMove } from './client-host-protocol.ts';
import type { JobMonitor } from './job-monitor.ts';

/**
 * Resolves when any raw client completes a checkpoint past a given op id (at the time the client
 * completed it, in this process's clock: the hosts report it with their event).
 */
export class CheckpointProbe {
  private waiters: Array<{ after: bigint; resolve: (at: number) => void }> = [];

  constructor(hosts: ClientHosts) {
    hosts.onComplete = (opId, at) => {
      const ready = this.waiters.filter((w) => opId > w.after);
      this.waiters = this.waiters.filter((w) => opId <= w.after);
      for (const w of ready) w.resolve(at);
    };
  }

  next(after: bigint, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no client completed a checkpoint past ${after} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ after, resolve: (at) => (clearTimeout(t), resolve(at)) });
    });
  }
}

export interface FailoverResult {
  fault: 'replicator-sigkill' | 'lock-connection-dropped';
  from: string;
  to: string;
  /** Fault → the first new checkpoint in storage, written by the process that took over (ms). */
  resumeMs: number;
  /** Fault → first new checkpoint completed by a client (ms): resumeMs plus delivery to clients. */
  failoverMs: number;
}

/** Resolves with the time storage's active checkpoint first passes `after` (polled every 20 ms). */
async function storageCheckpointPast(cluster: Cluster, after: bigint, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const cp = await cluster.activeCheckpoint();
    const at = performance.now();
    if (cp && cp.checkpoint > after) return at;
    if (at > deadline) throw new Error(`no new checkpoint in storage past ${after} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * SIGKILLs the active replicator, or terminates its lock session's backend (the process lives on),
 * and measures until a client completes a checkpoint the old holder did not write. A killed
 * replicator is started again afterwards as the new standby.
 */
export async function replicatorFault(cluster: Cluster, probe: CheckpointProbe, monitor: JobMonitor, fault: FailoverResult['fault'], timeoutMs = 60_000): Promise<FailoverResult> {
  const active = await waitFor('an active replicator holding the lock', 60_000, () => cluster.activeReplicator());
  const t0 = performance.now();
  if (fault === 'replicator-sigkill') {
    await active.process.sample();
    active.process.signal('SIGKILL');
    await active.process.exited;
  } else {
    await cluster.storage.query('SELECT pg_terminate_backend($1)', [active.backendPid]);
  }
  const cp = (await cluster.activeCheckpoint())!.checkpoint;
  const [resumedAt, at] = await Promise.all([storageCheckpointPast(cluster, cp, timeoutMs), probe.next(cp, timeoutMs)]);
  const now = await waitFor('a replicator holding the lock again', 30_000, () => cluster.activeReplicator());
  if (fault === 'replicator-sigkill') await cluster.start(active.process.name, 'replicator');
  else if (!active.process.alive()) throw new Error(`${active.process.name} exited after losing its lock connection:\n${active.process.tail()}`);
  // The processes' own view agrees: only the new holder runs the job (the old one, if alive, stopped it).
  const version = (await cluster.activeCheckpoint())!.id;
  await monitor.settled(version, now.process.name, () => new Set(cluster.replicators().filter((p) => p.alive()).map((p) => p.pid)));
  return { fault, from: active.process.name, to: now.process.name, resumeMs: Math.round(resumedAt - t0), failoverMs: Math.round(at - t0) };
}

export interface CatchUp {
  user: string;
  /** Ops the client downloaded on its new stream before the first complete checkpoint. */
  ops: number;
  bytes: number;
  /** Ops in storage in its buckets after the positions it resumed from, up to that checkpoint. */
  changedOps: number;
  /** Rows the client held (its whole data set). */
  heldRows: number;
  resumedBuckets: number;
  /** How its old stream ended. */
  endedCleanly: boolean;
  /** Whether its old stream had completed a checkpoint. */
  oldCompleted: boolean;
}

export interface ApiFaultResult {
  fault: 'api-sigterm' | 'api-sigkill';
  victim: string;
  /** Connections the balancer had open to the victim when it was signalled. */
  openConnections: number;
  /** Raw clients the victim's connection registry listed just before the signal (SDK clients' rows not counted). */
  servedRawClients: number;
  /** Of those, the ones that had not ended their stream and completed a checkpoint on a new one within 120 s. */
  notMoved: string[];
  /** Signal → process exit (ms). */
  exitMs: number;
  exitCode: number | null;
  catchUps: CatchUp[];
  /** syncline-http clients: bytes before the first complete checkpoint of the stream after the fault / of their first stream. */
  sdkRatios: number[];
}

async function changedOps(cluster: Cluster, m: HostMove): Promise<number> {
  const fc = m.firstComplete;
  const resumeFrom = new Map(m.resumeFrom);
  const version = Number(fc.buckets[0]?.split('#')[0] ?? 0);
  const names = fc.buckets;
  const afters = names.map((b) => resumeFrom.get(b) ?? '0');
  const { rows } = await cluster.storage.query<{ n: string }>(
    `SELECT count(*) AS n FROM syncline.bucket_data d JOIN unnest($2::text[], $3::bigint[]) AS r(bucket, after) ON d.bucket = r.bucket
      WHERE d.version_id = $1 AND d.op_id > r.after AND d.op_id <= $4`,
    [version, names, afters, fc.lastOpId.toString()],
  );
  return Number(rows[0]!.n);
}

/**
 * SIGTERM or SIGKILL of the API process with the most open connections; the process is started
 * again (same name, new port) once it exited. Returns the catch-up of every raw client whose
 * stream it served (named by its connection registry just before the signal; see moved-clients.ts).
 */
export async function apiFault(cluster: Cluster, hosts: ClientHosts, fault: ApiFaultResult['fault']): Promise<ApiFaultResult> {
  const open = cluster.balancer.open();
  const victim = cluster
    .apis()
    .filter((p) => p.alive())
    .sort((a, b) => (open[b.name] ?? 0) - (open[a.name] ?? 0))[0]!;
  await victim.sample();
  // Raw clients the victim serves, by its own connection registry (client ids are unique per client).
  const { rows } = await cluster.storage.query<{ client_id: string }>(
    `SELECT c.client_id FROM syncline.connections c JOIN syncline.processes p ON p.id = c.process_id
      WHERE p.name = $1 AND p.pid = $2 AND c.client_id IS NOT NULL`,
    [victim.name, victim.pid],
  );
  const onVictim = new Set(rows.map((r) => r.client_id));
  const t0 = performance.now();
  const sent = Date.now();
  victim.signal(fault === 'api-sigterm' ? 'SIGTERM' : 'SIGKILL');
  const exit = await victim.exited;
  await cluster.start(victim.name, 'api');
  // Counted in the client hosts (moved-clients.ts over each raw client's stream samples).
  let moves = await hosts.moves(onVictim, t0);
  const deadline = Date.now() + 120_000;
  while (moves.pending.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    moves = await hosts.moves(onVictim, t0);
  }
  const result: ApiFaultResult = {
    fault,
    victim: victim.name,
    openConnections: open[victim.name] ?? 0,
    servedRawClients: moves.served,
    notMoved: moves.pending,
    exitMs: exit.at - sent,
    exitCode: exit.code,
    catchUps: [],
    sdkRatios: [],
  };
  for (const m of moves.moved) {
    result.catchUps.push({
      user: m.user,
      ops: m.ops,
      bytes: m.bytes,
      changedOps: await changedOps(cluster, m),
      heldRows: m.heldRows,
      resumedBuckets: m.resumeFrom.length,
      endedCleanly: m.endedCleanly,
      oldCompleted: m.oldCompleted,
    });
  }
  result.sdkRatios = await hosts.sdkRatios(t0);
  return result;
}

export interface RollingRestartResult {
  restarted: string[];
  deployedVersion: number;
  exitMs: number[];
}

/** Restarts every API process in turn (SIGTERM, wait, start); deploys `rulesV2` after the first. */
export async function rollingRestart(cluster: Cluster, rulesV2: string): Promise<RollingRestartResult> {
  const names = cluster.apis().map((p) => p.name);
  const exitMs: number[] = [];
  let deployedVersion = 0;
  for (const [i, name] of names.entries()) {
    const p = cluster.processes.get(name)!;
    const sent = Date.now();
    p.signal('SIGTERM');
    const exit = await p.exited;
    exitMs.push(exit.at - sent);
    await cluster.start(name, 'api');
    if (i === 0) deployedVersion = await cluster.deploy(rulesV2);
  }
  return { restarted: names, deployedVersion, exitMs };
}
