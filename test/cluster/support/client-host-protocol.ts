/**
 * Messages between the cluster test and its client hosts (child processes, `client-host.ts`, each
 * running a share of the clients; Node IPC with `serialization: 'advanced'`, so bigint and Map
 * cross as they are). Times cross as epoch milliseconds (`performance.timeOrigin + now`): each
 * process converts to and from its own `performance.now()` clock.
 */
import type { ClientKind, Snapshot } from './cluster-clients.ts';

export interface HostClientSpec {
  /** Index of the client in the whole test (unique across hosts: names raw clients' client_id). */
  index: number;
  kind: ClientKind;
  userId: string;
}

/** One raw client that moved off a signalled API process (see moved-clients.ts), as its host saw it. */
export interface HostMove {
  user: string;
  clientId: string;
  endedCleanly: boolean;
  /** Whether the stream it moved off had completed a checkpoint (else it may hold no positions yet). */
  oldCompleted: boolean;
  /** Ops and bytes downloaded on the new stream before its first complete checkpoint. */
  ops: number;
  bytes: number;
  /** Rows the client held when asked (its whole data set). */
  heldRows: number;
  /** The `after` per bucket it sent on the new stream. */
  resumeFrom: Array<[string, string]>;
  /** The new stream's first complete checkpoint. */
  firstComplete: { lastOpId: bigint; buckets: string[] };
}

export type HostRequest =
  | { op: 'open'; clients: HostClientSpec[]; url: string; jwtSecret: string; verbose: boolean }
  | { op: 'rawStatus' }
  | { op: 'moves'; onVictim: string[]; signalAt: number }
  | { op: 'sdkRatios'; since: number }
  | { op: 'verifyRaw'; versionId: number; target: bigint; expected: Map<string, Map<string, string>>; should: Record<string, string[]>; timeoutMs: number }
  | { op: 'converge'; expected: Record<string, Snapshot>; boundMs: number }
  | { op: 'summary' }
  | { op: 'close' };

export interface HostResults {
  open: { opened: number };
  /** `waiting`: where the first few raw clients without a complete checkpoint stand. */
  rawStatus: { raw: number; completed: number; waiting: string[]; waitingIds: string[] };
  moves: { served: number; moved: HostMove[]; pending: string[] };
  sdkRatios: number[];
  verifyRaw: { problems: string[]; rowsChecked: number };
  converge: { mismatches: string[] };
  summary: {
    checksumProblems: string[];
    serverErrorSamples: string[];
    connects: Record<ClientKind, number>;
    /** CPU of the host since it started, in % of one core. */
    cpuPercent: number;
    clients: number;
  };
  close: { closed: number };
}

export type HostMessage =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string }
  /** A raw client of this host completed a checkpoint past every one the host reported before. */
  | { event: 'complete'; opId: bigint; at: number }
  | { event: 'progress'; text: string };

/** performance.now() of this process → epoch ms, and back. */
export const toEpoch = (t: number) => performance.timeOrigin + t;
export const fromEpoch = (epochMs: number) => epochMs - performance.timeOrigin;
