/**
 * Test model of a bucket op-log and of the client-side reduce (reference §2): keep the last PUT
 * per row, absorb superseded/removed/moved checksums into add_checksum, reset at CLEAR.
 */
import { addChecksums } from '@syncline/protocol';

export interface ModelOp {
  opId: bigint;
  op: 'PUT' | 'REMOVE' | 'MOVE' | 'CLEAR';
  key: string | null;
  data: string | null;
  checksum: number;
  targetOp?: bigint | null;
}

export class ClientBucket {
  rows = new Map<string, { checksum: number; data: string | null }>();
  add = 0;
  apply(op: ModelOp): void {
    if (op.op === 'CLEAR') {
      this.rows.clear();
      this.add = op.checksum >>> 0;
      return;
    }
    if (op.op === 'MOVE') {
      this.add = addChecksums(this.add, op.checksum);
      return;
    }
    const prev = this.rows.get(op.key!);
    if (prev) this.add = addChecksums(this.add, prev.checksum);
    if (op.op === 'PUT') this.rows.set(op.key!, { checksum: op.checksum, data: op.data });
    else {
      this.rows.delete(op.key!);
      this.add = addChecksums(this.add, op.checksum);
    }
  }
  checksum(): number {
    let s = this.add;
    for (const r of this.rows.values()) s = addChecksums(s, r.checksum);
    return s;
  }
  live(): Map<string, string | null> {
    return new Map([...this.rows].map(([k, v]) => [k, v.data]));
  }
}

export function sumOf(ops: readonly ModelOp[]): number {
  return ops.reduce((s, o) => addChecksums(s, o.checksum), 0);
}
