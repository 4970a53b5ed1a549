import { describe, expect, it } from 'vitest';
import { slotRisk, type SlotWalHealth } from '@syncline/engine';

const MB = 1024 * 1024;
const slot = (over: Partial<SlotWalHealth>): SlotWalHealth => ({
  slotName: 'syncline_1_x',
  active: true,
  walStatus: 'reserved',
  lagBytes: 0,
  retainedBytes: 0,
  safeWalBytes: 48 * MB,
  walBudgetBytes: 48 * MB,
  ...over,
});
const active = { state: 'ACTIVE' as const, snapshotDone: true, lastFatalError: null };

describe('slotRisk', () => {
  it('warns above half of the WAL budget and is critical above 80 % or when unreserved', () => {
    expect(slotRisk(slot({ retainedBytes: 10 * MB }), active)).toBe('ok');
    expect(slotRisk(slot({ retainedBytes: 30 * MB }), active)).toBe('warning');
    expect(slotRisk(slot({ retainedBytes: 40 * MB }), active)).toBe('critical');
    expect(slotRisk(slot({ retainedBytes: 1 * MB, walStatus: 'unreserved' }), active)).toBe('critical');
  });

  it('an unlimited budget is never at risk by size', () => {
    expect(slotRisk(slot({ retainedBytes: 100_000 * MB, walBudgetBytes: null, safeWalBytes: null, walStatus: 'extended' }), active)).toBe('ok');
  });

  it('reports an invalidated slot, and a version that failed with a lost slot after the slot was dropped', () => {
    expect(slotRisk(slot({ walStatus: 'lost' }), active)).toBe('lost');
    const errored = { state: 'ERRORED' as const, snapshotDone: true, lastFatalError: 'Replication slot syncline_1_x of version 1 is lost; a new version must re-snapshot.' };
    expect(slotRisk(undefined, errored)).toBe('lost');
    expect(slotRisk(undefined, active)).toBe('unknown');
  });
});
