import { describe, expect, it } from 'vitest';
import { diffLines, diffStats } from '../../src/admin/line-diff.ts';

function apply(lines: ReturnType<typeof diffLines>): { old: string[]; new: string[] } {
  return {
    old: lines.filter((l) => l.type !== 'add').map((l) => l.text),
    new: lines.filter((l) => l.type !== 'del').map((l) => l.text),
  };
}

describe('diffLines', () => {
  it('marks an inserted and a changed line with old and new line numbers', () => {
    const d = diffLines('a\nb\nc\n', 'a\nx\nb\nd\n');
    expect(d.map((l) => `${l.type}:${l.text}:${l.oldLine ?? '-'}:${l.newLine ?? '-'}`)).toEqual(['same:a:1:1', 'add:x:-:2', 'same:b:2:3', 'del:c:3:-', 'add:d:-:4']);
    expect(diffStats(d)).toEqual({ added: 2, deleted: 1 });
  });

  it('reports identical texts as unchanged and empty texts as pure additions or deletions', () => {
    expect(diffStats(diffLines('x\ny', 'x\ny'))).toEqual({ added: 0, deleted: 0 });
    expect(diffLines('', 'a\nb').map((l) => l.type)).toEqual(['add', 'add']);
    expect(diffLines('a\nb', '').map((l) => l.type)).toEqual(['del', 'del']);
  });

  it('always reconstructs both texts (random edits)', () => {
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    for (let run = 0; run < 200; run++) {
      const a = Array.from({ length: rnd(30) }, () => `l${rnd(6)}`);
      const b = a.filter(() => rnd(4) !== 0).flatMap((l) => (rnd(5) === 0 ? [l, `n${rnd(6)}`] : [l]));
      const d = diffLines(a.join('\n'), b.join('\n'));
      expect(apply(d)).toEqual({ old: a, new: b });
      // Minimal for pure deletions/insertions: never more edits than the size difference allows.
      expect(diffStats(d).added + diffStats(d).deleted).toBeLessThanOrEqual(a.length + b.length);
    }
  });
});
