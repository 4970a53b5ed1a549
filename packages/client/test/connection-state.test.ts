import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/sync/backoff.ts';
import { connectionFlags, transition, type ConnectionEvent, type ConnectionState } from '../src/sync/connection-state.ts';

const ctx = { backoff: { baseMs: 100, maxMs: 1000, jitter: 0 }, random: () => 0.5 };
const err = new Error('x');

type Kind = ConnectionState['kind'];
type EventType = ConnectionEvent['type'];

const states: Record<Kind, ConnectionState> = {
  disconnected: { kind: 'disconnected' },
  connecting: { kind: 'connecting', attempt: 2 },
  connected: { kind: 'connected', attempt: 2 },
  backoff: { kind: 'backoff', attempt: 2, delayMs: 200 },
  closed: { kind: 'closed' },
};
const events: Record<EventType, ConnectionEvent> = {
  connect: { type: 'connect' },
  opened: { type: 'opened' },
  healthy: { type: 'healthy' },
  ended: { type: 'ended' },
  failed: { type: 'failed', error: err },
  restart: { type: 'restart' },
  retry_timer: { type: 'retry_timer' },
  disconnect: { type: 'disconnect' },
  close: { type: 'close' },
};

/** The complete transition table: [next state, effects] for every (state, event). */
const table: Record<Kind, Record<EventType, [ConnectionState, string[]]>> = {
  disconnected: {
    connect: [{ kind: 'connecting', attempt: 0 }, ['open_stream']],
    opened: [states.disconnected, []],
    healthy: [states.disconnected, []],
    ended: [states.disconnected, []],
    failed: [states.disconnected, []],
    restart: [states.disconnected, []],
    retry_timer: [states.disconnected, []],
    disconnect: [states.disconnected, []],
    close: [states.closed, []],
  },
  connecting: {
    connect: [{ kind: 'connecting', attempt: 2 }, ['abort_stream', 'open_stream']],
    opened: [{ kind: 'connected', attempt: 2 }, []],
    healthy: [states.connecting, []],
    ended: [{ kind: 'backoff', attempt: 3, delayMs: 400 }, ['schedule_retry:400']],
    failed: [{ kind: 'backoff', attempt: 3, delayMs: 400 }, ['schedule_retry:400']],
    restart: [{ kind: 'connecting', attempt: 2 }, ['abort_stream', 'open_stream']],
    retry_timer: [states.connecting, []],
    disconnect: [states.disconnected, ['abort_stream']],
    close: [states.closed, ['abort_stream']],
  },
  connected: {
    connect: [{ kind: 'connecting', attempt: 2 }, ['abort_stream', 'open_stream']],
    opened: [states.connected, []],
    healthy: [{ kind: 'connected', attempt: 0 }, []],
    ended: [{ kind: 'backoff', attempt: 3, delayMs: 400 }, ['abort_stream', 'schedule_retry:400']],
    failed: [{ kind: 'backoff', attempt: 3, delayMs: 400 }, ['abort_stream', 'schedule_retry:400']],
    restart: [{ kind: 'connecting', attempt: 2 }, ['abort_stream', 'open_stream']],
    retry_timer: [states.connected, []],
    disconnect: [states.disconnected, ['abort_stream']],
    close: [states.closed, ['abort_stream']],
  },
  backoff: {
    connect: [{ kind: 'connecting', attempt: 2 }, ['cancel_retry', 'open_stream']],
    opened: [states.backoff, []],
    healthy: [states.backoff, []],
    ended: [states.backoff, []],
    failed: [states.backoff, []],
    restart: [{ kind: 'connecting', attempt: 2 }, ['cancel_retry', 'open_stream']],
    retry_timer: [{ kind: 'connecting', attempt: 2 }, ['open_stream']],
    disconnect: [states.disconnected, ['cancel_retry']],
    close: [states.closed, ['cancel_retry']],
  },
  closed: {
    connect: [states.closed, []],
    opened: [states.closed, []],
    healthy: [states.closed, []],
    ended: [states.closed, []],
    failed: [states.closed, []],
    restart: [states.closed, []],
    retry_timer: [states.closed, []],
    disconnect: [states.closed, []],
    close: [states.closed, []],
  },
};

describe('connection state machine', () => {
  for (const [kind, row] of Object.entries(table) as [Kind, (typeof table)[Kind]][]) {
    for (const [eventType, [next, effects]] of Object.entries(row) as [EventType, [ConnectionState, string[]]][]) {
      it(`${kind} --${eventType}--> ${next.kind} [${effects.join(', ')}]`, () => {
        const result = transition(states[kind], events[eventType], ctx);
        expect(result.state).toEqual(next);
        expect(result.effects.map((e) => (e.type === 'schedule_retry' ? `schedule_retry:${e.delayMs}` : e.type))).toEqual(effects);
      });
    }
  }

  it('covers every state and event', () => {
    expect(Object.keys(table).sort()).toEqual(Object.keys(states).sort());
    for (const row of Object.values(table)) expect(Object.keys(row).sort()).toEqual(Object.keys(events).sort());
  });

  it('shows connected/connecting flags per state', () => {
    expect(connectionFlags(states.connecting)).toEqual({ connected: false, connecting: true });
    expect(connectionFlags(states.connected)).toEqual({ connected: true, connecting: false });
    expect(connectionFlags(states.backoff)).toEqual({ connected: false, connecting: false });
  });

  it('backs off further after repeated failures and resets once healthy', () => {
    let s: ConnectionState = transition(states.disconnected, events.connect, ctx).state;
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      s = transition(s, events.failed, ctx).state;
      if (s.kind === 'backoff') delays.push(s.delayMs);
      s = transition(s, events.retry_timer, ctx).state;
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    s = transition(transition(s, events.opened, ctx).state, events.healthy, ctx).state;
    s = transition(s, events.failed, ctx).state;
    expect(s).toMatchObject({ kind: 'backoff', attempt: 1, delayMs: 100 });
  });

  it('reopens a healthy stream the server ended at once, but backs off if the next one ends before a checkpoint', () => {
    const healthy: ConnectionState = { kind: 'connected', attempt: 0 };
    const first = transition(healthy, events.ended, ctx);
    expect(first.state).toEqual({ kind: 'connecting', attempt: 1 });
    expect(first.effects.map((e) => e.type)).toEqual(['abort_stream', 'open_stream']);
    let s = transition(first.state, events.opened, ctx).state;
    s = transition(s, events.ended, ctx).state;
    expect(s).toEqual({ kind: 'backoff', attempt: 2, delayMs: 200 });
    // A stream that proves healthy again earns another immediate reopen.
    s = transition(transition(transition(s, events.retry_timer, ctx).state, events.opened, ctx).state, events.healthy, ctx).state;
    expect(transition(s, events.ended, ctx).state).toEqual({ kind: 'connecting', attempt: 1 });
  });
});

describe('backoff', () => {
  it('is capped and jittered within [(1 − jitter)·d, d]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (attempt, r) => {
        const options = { baseMs: 250, maxMs: 10_000, jitter: 0.5 };
        const full = Math.min(10_000, 250 * 2 ** Math.min(attempt - 1, 30));
        const d = backoffDelay(attempt, options, () => r);
        expect(d).toBeGreaterThanOrEqual(Math.floor(full * 0.5));
        expect(d).toBeLessThanOrEqual(full);
      }),
    );
  });
});
