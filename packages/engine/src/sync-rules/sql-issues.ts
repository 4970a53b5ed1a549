/**
 * Collects validation issues while compiling, mapping SQL offsets inside a YAML scalar to
 * positions in the YAML text.
 */
import type { SyncRulesIssue } from './types.ts';
import type { SyncRulesCode } from './issue-codes.ts';

/** Maps an offset range in some inner text (SQL) to YAML offsets. */
export type OffsetMapper = (start: number, end: number) => { start: number; end: number };

export interface IssueSink {
  add(level: SyncRulesIssue['level'], code: SyncRulesCode, message: string, range?: { start: number; end: number }): void;
}

/** Converts YAML offsets into 1-based line/column. */
export class LineIndex {
  private readonly lineStarts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.lineStarts[lo] as number) + 1 };
  }
}

/** Issue list bound to a YAML text. */
export class IssueCollector implements IssueSink {
  readonly issues: SyncRulesIssue[] = [];
  private readonly lines: LineIndex;

  constructor(text: string) {
    this.lines = new LineIndex(text);
  }

  private readonly seen = new Set<string>();

  add(level: SyncRulesIssue['level'], code: SyncRulesCode, message: string, range?: { start: number; end: number }): void {
    // The same sub-expression can be compiled more than once (OR branches): report it once.
    const key = `${level}|${code}|${message}|${range?.start ?? ''}|${range?.end ?? ''}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const issue: SyncRulesIssue = { level, code, message };
    if (range) {
      const { line, column } = this.lines.position(range.start);
      issue.location = { line, column, startOffset: range.start, endOffset: Math.max(range.end, range.start) };
    }
    this.issues.push(issue);
  }

  get hasFatal(): boolean {
    return this.issues.some((i) => i.level === 'fatal');
  }

  /** A sink that maps inner (SQL) offsets through `map` before recording. */
  scoped(map: OffsetMapper): IssueSink {
    return {
      add: (level, code, message, range) => this.add(level, code, message, range ? map(range.start, range.end) : undefined),
    };
  }
}

/**
 * The PowerSync admin-API shape of an issue (`/api/sync-rules/v1/validate`):
 * `{level, message, location?: {start_offset, end_offset}}` (reference §6.6).
 *
 * @example
 * compileSyncRules(yaml, { versionId: 1 }).issues.map(toApiIssue);
 */
export function toApiIssue(issue: SyncRulesIssue): {
  level: SyncRulesIssue['level'];
  message: string;
  location?: { start_offset: number; end_offset: number };
} {
  return issue.location
    ? { level: issue.level, message: issue.message, location: { start_offset: issue.location.startOffset, end_offset: issue.location.endOffset } }
    : { level: issue.level, message: issue.message };
}
