/**
 * Line diff of two texts (Myers' O(ND) algorithm), for comparing sync-rules versions. Pure.
 *
 * @example
 * diffLines('a\nb\n', 'a\nc\n');
 * // → [{type:'same', text:'a', oldLine:1, newLine:1}, {type:'del', text:'b', oldLine:2, newLine:null},
 * //    {type:'add', text:'c', oldLine:null, newLine:2}, …]
 */
export interface DiffLine {
  type: 'same' | 'add' | 'del';
  text: string;
  /** 1-based line in the old text (null for additions). */
  oldLine: number | null;
  /** 1-based line in the new text (null for deletions). */
  newLine: number | null;
}

/** Bound on the edit distance explored; beyond it the rest is reported as replaced wholesale. */
const MAX_EDIT_DISTANCE = 4_000;

export function diffLines(oldText: string, newText: string): DiffLine[] {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  // Trim the common prefix and suffix: cheap and keeps the search small.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const out: DiffLine[] = [];
  for (let i = 0; i < start; i++) out.push({ type: 'same', text: a[i]!, oldLine: i + 1, newLine: i + 1 });
  const middle = myers(a.slice(start, endA), b.slice(start, endB));
  let oi = start;
  let ni = start;
  for (const op of middle) {
    if (op === 'same') out.push({ type: 'same', text: a[oi]!, oldLine: ++oi, newLine: ++ni });
    else if (op === 'del') out.push({ type: 'del', text: a[oi]!, oldLine: ++oi, newLine: null });
    else out.push({ type: 'add', text: b[ni]!, oldLine: null, newLine: ++ni });
  }
  for (let i = endA, j = endB; i < a.length; i++, j++) out.push({ type: 'same', text: a[i]!, oldLine: i + 1, newLine: j + 1 });
  return out;
}

/** Counts of added and deleted lines. */
export function diffStats(lines: DiffLine[]): { added: number; deleted: number } {
  let added = 0;
  let deleted = 0;
  for (const l of lines) {
    if (l.type === 'add') added++;
    else if (l.type === 'del') deleted++;
  }
  return { added, deleted };
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

type Op = 'same' | 'add' | 'del';

function myers(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map(() => 'add');
  if (m === 0) return a.map(() => 'del');
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!)) x = v[offset + k + 1]!;
      else x = v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, offset, n, m, d);
    }
  }
  // Too different: report everything as replaced.
  return [...a.map((): Op => 'del'), ...b.map((): Op => 'add')];
}

function backtrack(trace: Int32Array[], offset: number, n: number, m: number, dEnd: number): Op[] {
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = dEnd; d > 0; d--) {
    const v = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? k + 1 : k - 1;
    const prevX = v[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push('same');
      x--;
      y--;
    }
    if (x === prevX) ops.push('add');
    else ops.push('del');
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    ops.push('same');
    x--;
    y--;
  }
  return ops.reverse();
}
