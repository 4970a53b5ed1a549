import { describe, expect, it } from 'vitest';
import { CommitBuffer } from '../../src/replication/commit-buffer.ts';

/** One source transaction of `rows` changes named `${tx}.${i}`, committed at `0/${endLsn}`. */
function transaction(b: CommitBuffer<string>, tx: string, rows: number, endLsn?: string): void {
  b.begin();
  for (let i = 0; i < rows; i++) b.push(`${tx}.${i}`);
  if (endLsn) b.commit(`0/${endLsn}`, 1000);
}

describe('CommitBuffer', () => {
  it('checkpoints at the last commit of a chunk that ends inside a transaction, keeping the open one', () => {
    const b = new CommitBuffer<string>();
    transaction(b, 'a', 2, 'A0');
    transaction(b, 'b', 1, 'B0');
    transaction(b, 'c', 2); // still open when the chunk ends
    const batch = b.takeCommitted();
    expect(batch).toEqual({ changes: ['a.0', 'a.1', 'b.0'], lsn: '00000000/000000B0', transactions: 2, oldestCommitTime: 1000 });
    expect(b.size).toBe(2);
    b.push('c.2');
    b.commit('0/C0', 2000);
    expect(b.takeCommitted()).toEqual({ changes: ['c.0', 'c.1', 'c.2'], lsn: '00000000/000000C0', transactions: 1, oldestCommitTime: 2000 });
  });

  it('advances on every chunk under constant load where no chunk ends between transactions', () => {
    const b = new CommitBuffer<string>();
    const checkpoints: string[] = [];
    // Chunks cut every transaction in the middle: [a a | a-commit b b | b-commit c c | …]
    b.begin();
    for (let tx = 0; tx < 10; tx++) {
      b.push(`${tx}.0`);
      b.push(`${tx}.1`);
      b.commit(`0/${(tx + 1) * 16}`, tx);
      b.begin();
      b.push(`${tx + 1}.x`);
      const batch = b.takeCommitted(); // chunk end, inside the next transaction
      if (batch) checkpoints.push(batch.lsn);
    }
    expect(checkpoints).toHaveLength(10);
  });

  it('writes no checkpoint while part of the open transaction is already stored', () => {
    const b = new CommitBuffer<string>();
    transaction(b, 'a', 1, 'A0');
    transaction(b, 'big', 3);
    expect(b.takeAll()).toEqual(['a.0', 'big.0', 'big.1', 'big.2']); // buffer full: stored in parts
    b.push('big.3');
    expect(b.takeCommitted()).toBeNull(); // a checkpoint at A0 would include big.0–2
    b.commit('0/B0', 1);
    expect(b.takeCommitted()).toEqual({ changes: ['big.3'], lsn: '00000000/000000B0', transactions: 2, oldestCommitTime: 1000 });
  });

  it('storing complete transactions without a checkpoint keeps their commit for the next one', () => {
    const b = new CommitBuffer<string>();
    transaction(b, 'a', 2, 'A0');
    b.begin();
    expect(b.takeAll()).toEqual(['a.0', 'a.1']);
    expect(b.takeCommitted()).toEqual({ changes: [], lsn: '00000000/000000A0', transactions: 1, oldestCommitTime: 1000 });
  });

  it('uses heartbeat messages outside transactions as consistent positions, never inside one', () => {
    const b = new CommitBuffer<string>();
    b.keepalive('0/10');
    expect(b.takeCommitted()?.lsn).toBe('00000000/00000010');
    b.begin();
    b.keepalive('0/20');
    expect(b.takeCommitted()).toBeNull();
  });
});
