import { describe, expect, it } from 'vitest';
import { countMoved, moveOf, type StreamSample } from './support/moved-clients.ts';

const SIGNAL = 1_000;
const s = (openedAt: number, endAt: number | null, complete = true, clean = true): StreamSample => ({
  openedAt,
  end: endAt === null ? null : { at: endAt, clean },
  firstComplete: complete ? { at: openedAt + 1 } : null,
});

describe('counting clients moved off a signalled API process', () => {
  it('counts a client whose stream the victim drained after the signal and that completed a checkpoint elsewhere', () => {
    const old = s(10, 1_050);
    const next = s(1_200, null);
    expect(moveOf([old, next], SIGNAL)).toEqual({ old, next });
  });

  it('counts a drained stream even when its end was recorded late, long after the restart', () => {
    const old = s(10, 9_000);
    const next = s(9_100, null);
    expect(moveOf([old, next], SIGNAL)).toEqual({ old, next });
  });

  it('skips refused reconnects (503 while draining) and streams without a complete checkpoint', () => {
    const old = s(10, 1_050);
    const refused = s(1_100, 1_101, false, false);
    const next = s(1_500, null);
    expect(moveOf([old, refused, next], SIGNAL)?.next).toBe(next);
  });

  it('uses the stream open at the signal, not an earlier one that ended before it', () => {
    const earlier = s(10, 500);
    const atSignal = s(600, 1_020);
    const next = s(1_300, null);
    expect(moveOf([earlier, atSignal, next], SIGNAL)).toEqual({ old: atSignal, next });
  });

  it('is pending while the old stream has not ended, or no new stream has completed', () => {
    expect(moveOf([s(10, null)], SIGNAL)).toBeNull();
    expect(moveOf([s(10, 1_050), s(1_100, null, false)], SIGNAL)).toBeNull();
    expect(moveOf([], SIGNAL)).toBeNull();
  });

  it('counts only the clients the victim served, and reports the ones not yet moved', () => {
    const clients = [
      { id: 'a', samples: [s(10, 1_050), s(1_200, null)] },
      { id: 'b', samples: [s(10, null)] },
      { id: 'c', samples: [s(10, 1_050), s(1_200, null)] },
    ];
    const r = countMoved(clients, new Set(['a', 'b']), SIGNAL, (c) => c.id, (c) => c.samples);
    expect(r.moved.map((m) => m.client.id)).toEqual(['a']);
    expect(r.pending.map((c) => c.id)).toEqual(['b']);
  });
});
