/**
 * Which clients moved off an API process that was signalled (SIGTERM/SIGKILL), counted from the
 * server's side: the clients the victim's connection registry rows name (syncline.connections,
 * by client_id) just before the signal. Pure, so the counting itself is unit-tested.
 *
 * Why not from the client's samples alone ("a stream open before the signal that ended after
 * it"): that is evaluated at one instant right after the restart, and with 100 clients in the test
 * process it counted 0 moved clients off a SIGTERMed process although 54 raw clients reconnected
 * (a drained stream whose end the busy client process had not yet recorded is missed, and nothing
 * then waits for it). Here each client the victim served must end that stream and complete a
 * checkpoint on a new one; until then it is `pending`, and a client still pending at the deadline
 * is reported, not dropped.
 */

/** One sync stream as a client recorded it (chaos-client ConnectionSample). */
export interface StreamSample {
  openedAt: number;
  end: { at: number; clean: boolean } | null;
  firstComplete: unknown;
}

export interface Move<S extends StreamSample> {
  /** The stream the victim served at the signal (the client's last one opened before it). */
  old: S;
  /** The first stream opened after the old one ended that completed a checkpoint. */
  next: S;
}

export interface MoveCount<C, S extends StreamSample> {
  moved: Array<{ client: C } & Move<S>>;
  /** Clients the victim served that have not yet ended their old stream or completed a new one. */
  pending: C[];
}

/** The move of one client off the stream it had open at `signalAt`, or null while it is not complete. */
export function moveOf<S extends StreamSample>(samples: readonly S[], signalAt: number): Move<S> | null {
  const old = samples.filter((s) => s.openedAt < signalAt).at(-1);
  if (!old?.end) return null;
  const endedAt = old.end.at;
  const next = samples.find((s) => s !== old && s.openedAt >= endedAt && s.firstComplete !== null && s.firstComplete !== undefined);
  return next ? { old, next } : null;
}

/**
 * Counts the moves of the clients the victim served at the signal (`onVictim`: their client ids
 * from the victim's registry rows). Clients it did not serve are ignored.
 */
export function countMoved<C, S extends StreamSample>(
  clients: readonly C[],
  onVictim: ReadonlySet<string>,
  signalAt: number,
  idOf: (c: C) => string,
  samplesOf: (c: C) => readonly S[],
): MoveCount<C, S> {
  const result: MoveCount<C, S> = { moved: [], pending: [] };
  for (const client of clients) {
    if (!onVictim.has(idOf(client))) continue;
    const move = moveOf(samplesOf(client), signalAt);
    if (move) result.moved.push({ client, ...move });
    else result.pending.push(client);
  }
  return result;
}
