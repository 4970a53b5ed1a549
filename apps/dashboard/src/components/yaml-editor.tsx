'use client';
/**
 * YAML editor: a textarea over a highlighted copy of its text, with a line-number gutter that
 * marks errors (red) and warnings (amber) at their line. No editor dependency.
 */
import { useMemo } from 'react';
import { highlightYamlLine } from './yaml-highlight.tsx';

export interface EditorIssue {
  level: 'fatal' | 'warning';
  message: string;
  location?: { line: number; column: number } | undefined;
}

export function YamlEditor({ value, onChange, issues, readOnly = false, label = 'Sync rules YAML', minLines = 16 }: {
  value: string;
  onChange?: (v: string) => void;
  issues: readonly EditorIssue[];
  readOnly?: boolean;
  label?: string;
  minLines?: number;
}) {
  const lines = useMemo(() => value.split('\n'), [value]);
  const byLine = useMemo(() => {
    const m = new Map<number, EditorIssue[]>();
    for (const i of issues) {
      const line = i.location?.line;
      if (!line) continue;
      m.set(line, [...(m.get(line) ?? []), i]);
    }
    return m;
  }, [issues]);
  const rows = Math.max(lines.length, minLines);
  return (
    <div className="max-h-[560px] overflow-auto rounded border border-zinc-300 bg-white font-mono text-xs leading-5">
      <div className="flex min-w-full">
        <div aria-hidden className="sticky left-0 z-10 select-none border-r border-zinc-200 bg-zinc-50 py-1 text-right text-zinc-400">
          {Array.from({ length: rows }, (_, i) => {
            const n = i + 1;
            const list = byLine.get(n);
            const fatal = list?.some((x) => x.level === 'fatal');
            return (
              <div key={n} className="flex h-5 items-center justify-end gap-1 pl-1 pr-2" title={list?.map((x) => x.message).join('\n')}>
                {list ? (
                  <span data-testid={`issue-marker-line-${n}`} data-level={fatal ? 'fatal' : 'warning'} className={`inline-block h-2 w-2 rounded-full ${fatal ? 'bg-red-500' : 'bg-amber-400'}`} />
                ) : (
                  <span className="inline-block h-2 w-2" />
                )}
                <span className={list ? (fatal ? 'text-red-600' : 'text-amber-600') : ''}>{n}</span>
              </div>
            );
          })}
        </div>
        <div className="relative flex-1">
          <pre aria-hidden className="pointer-events-none m-0 whitespace-pre px-2 py-1">
            {Array.from({ length: rows }, (_, i) => {
              const list = byLine.get(i + 1);
              const bg = list ? (list.some((x) => x.level === 'fatal') ? 'bg-red-50' : 'bg-amber-50') : '';
              return (
                <div key={i} className={`h-5 ${bg}`}>
                  {highlightYamlLine(lines[i] ?? '', `l${i}`)}
                  {'\u200b'}
                </div>
              );
            })}
          </pre>
          <textarea
            aria-label={label}
            value={value}
            readOnly={readOnly}
            onChange={(e) => onChange?.(e.target.value)}
            spellCheck={false}
            autoCapitalize="off"
            autoComplete="off"
            wrap="off"
            className="absolute inset-0 h-full w-full resize-none overflow-hidden whitespace-pre bg-transparent px-2 py-1 leading-5 text-transparent caret-zinc-900 outline-none selection:bg-sky-200"
            onKeyDown={(e) => {
              if (e.key !== 'Tab' || readOnly) return;
              e.preventDefault();
              const t = e.currentTarget;
              const { selectionStart: s, selectionEnd: end } = t;
              const next = `${value.slice(0, s)}  ${value.slice(end)}`;
              onChange?.(next);
              requestAnimationFrame(() => t.setSelectionRange(s + 2, s + 2));
            }}
          />
        </div>
      </div>
    </div>
  );
}

export function IssueList({ issues }: { issues: readonly EditorIssue[] }) {
  if (issues.length === 0) return null;
  return (
    <ul data-testid="validation-issues" className="mt-2 space-y-1 text-xs">
      {issues.map((i, n) => (
        <li key={n} className={i.level === 'fatal' ? 'text-red-700' : 'text-amber-700'}>
          <span className="font-semibold">{i.level === 'fatal' ? 'Error' : 'Warning'}</span>
          {i.location ? ` · line ${i.location.line}, column ${i.location.column}` : ''}: {i.message}
        </li>
      ))}
    </ul>
  );
}
