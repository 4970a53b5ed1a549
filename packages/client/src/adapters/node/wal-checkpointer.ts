/**
 * WAL checkpoints on a second connection in a worker thread, so that a large download does not
 * stop the event loop while pages are copied from the WAL into the database file (with SQLite's
 * automatic checkpoints, the committing connection does that copy and its fsync synchronously:
 * ~2–3 s of a 1,000,000-row download).
 *
 * The adapter turns SQLite's automatic checkpoints off and calls {@link WalCheckpointer.afterCommit}
 * after each COMMIT: once the WAL has grown past `pages`, it asks the worker for a PASSIVE
 * checkpoint (never blocks the writer or readers; copies what is committed). A PASSIVE checkpoint
 * that catches up lets the next write transaction start the WAL file from its beginning again.
 * Bounds: when the WAL reaches four times `pages` anyway (the worker lagging, or readers holding
 * old snapshots) — while a pass is in progress, or at the second commit in a row — the adapter
 * waits for the worker's pass in progress (at most 5 s) and checkpoints the rest on its own
 * connection, as SQLite would have; if the
 * worker cannot start or fails, automatic checkpoints are turned back on. Checkpointing is
 * crash-safe in SQLite: a process killed during one loses nothing committed.
 *
 * The worker starts lazily, at the first checkpoint a database needs — small databases and
 * tests never start one.
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Runs in the worker: one connection, a PASSIVE checkpoint per request, close on request. It
 * reports through shared memory (STATE), not messages: the caller checks it synchronously after
 * a commit, also while its event loop is kept busy by a download.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const state = new Int32Array(workerData.state);
const done = () => {
  Atomics.store(state, 0, 0);
  Atomics.notify(state, 0);
};
const failed = () => {
  Atomics.store(state, 2, 1);
  done();
};
let db;
try {
  db = new (require(workerData.module))(workerData.path);
  Atomics.store(state, 3, 1);
} catch {
  failed();
}
parentPort.on('message', (m) => {
  if (m === 'close') {
    db?.close();
    parentPort.close();
    return;
  }
  if (!db) return failed();
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    Atomics.add(state, 1, 1);
    done();
  } catch {
    failed();
  }
});
`;

export interface CheckpointerOptions {
  /** The database file (the WAL is `<path>-wal`). */
  path: string;
  /** WAL size in pages at which a checkpoint is requested. */
  pages: number;
  /** Runs a checkpoint on the caller's connection (the fallback when the WAL grows to 4 × pages). */
  checkpointHere: () => void;
  /** Turns SQLite's automatic checkpoints back on (the worker failed). */
  restoreAutocheckpoint: () => void;
}

/** Shared state slots: a checkpoint requested and not done; checkpoints done; the worker failed; its connection is open. */
const IN_FLIGHT = 0;
const DONE = 1;
const FAILED = 2;
const OPEN = 3;

export class WalCheckpointer {
  private worker: Worker | undefined;
  private readonly state = new Int32Array(new SharedArrayBuffer(4 * 4));
  private failed = false;
  private closed: Promise<void> | undefined;
  private here = 0;
  /** The WAL went past 4 × `pages` at the last commit and that was left to the worker. */
  private pastBound = false;
  private readonly walPath: string;
  private readonly threshold: number;

  constructor(private readonly options: CheckpointerOptions) {
    this.walPath = `${options.path}-wal`;
    // Page size is not known here without a query; 4 KiB is SQLite's default and ours.
    this.threshold = options.pages * 4096;
  }

  /** Whether the worker is running (started at the first checkpoint needed). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Checkpoints done by the worker and on the caller's connection (diagnostics, tests). */
  get counts(): { worker: number; here: number } {
    return { worker: Atomics.load(this.state, DONE), here: this.here };
  }

  /** After a COMMIT: requests a checkpoint when the WAL is past the threshold. */
  afterCommit(): void {
    if (this.failed || this.closed) return;
    if (Atomics.load(this.state, FAILED) === 1) return this.fail();
    let size: number;
    try {
      size = statSync(this.walPath).size;
    } catch {
      return;
    }
    if (size < 4 * this.threshold) this.pastBound = false;
    if (size < this.threshold) return;
    const inFlight = Atomics.load(this.state, IN_FLIGHT) === 1;
    if (size >= 4 * this.threshold) {
      if (inFlight || this.pastBound) {
        // The worker is lagging: a PASSIVE checkpoint gives up while another runs, so wait for
        // its pass (bounded) and copy the rest here; the WAL starts over at the next transaction.
        // Not for a worker still starting: that may need this thread's event loop.
        if (Atomics.load(this.state, OPEN) === 1) Atomics.wait(this.state, IN_FLIGHT, 1, 5_000);
        this.options.checkpointHere();
        this.here++;
        this.pastBound = false;
        return;
      }
      // One commit took the WAL past the bound while the worker was idle (the apply of a large
      // download writes ~200 MB at once): the worker gets it first. Copying it here held up the
      // end of a 1M-row first sync by 1.2–1.3 s. If the WAL is still past the bound at the next
      // commit, it is copied here then: the bound is 4 × `pages` plus two transactions.
      this.pastBound = true;
    }
    if (inFlight) return;
    const worker = this.worker ?? this.start();
    if (!worker) return;
    Atomics.store(this.state, IN_FLIGHT, 1);
    worker.postMessage('checkpoint');
  }

  private start(): Worker | undefined {
    try {
      const module = createRequire(import.meta.url).resolve('better-sqlite3');
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, path: this.options.path, state: this.state.buffer } });
      worker.unref();
      worker.on('error', () => this.fail());
      this.worker = worker;
      return worker;
    } catch {
      this.fail();
      return undefined;
    }
  }

  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    void this.worker?.terminate();
    this.worker = undefined;
    this.options.restoreAutocheckpoint();
  }

  /** Stops the worker (after any checkpoint in progress); call before closing the database. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const worker = this.worker;
      this.worker = undefined;
      if (!worker) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('close');
      const timer = setTimeout(() => void worker.terminate(), 10_000);
      await exited;
      clearTimeout(timer);
    })();
    return this.closed;
  }
}
