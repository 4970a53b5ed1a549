/** Tiny YAML + sync-rules SQL highlighter for the rules editor (one line at a time). */
import type { ReactNode } from 'react';

const SQL_KEYWORDS = /\b(SELECT|FROM|WHERE|AND|OR|NOT|AS|IN|IS|NULL|TRUE|FALSE|LIKE|CAST|CASE|WHEN|THEN|ELSE|END|JOIN|ON)\b/gi;

function sqlTokens(text: string, keyBase: string): ReactNode[] {
  const out: ReactNode[] = [];
  const re = /('(?:[^']|'')*')|(\b(?:request|bucket|token_parameters|user_parameters)\.[A-Za-z_][\w]*(?:\(\))?)|(\b\d+(?:\.\d+)?\b)/g;
  let last = 0;
  let i = 0;
  for (const m of text.matchAll(re)) {
    const idx = m.index ?? 0;
    if (idx > last) out.push(...keywords(text.slice(last, idx), `${keyBase}-k${i}`));
    const cls = m[1] ? 'text-emerald-700' : m[2] ? 'text-violet-700' : 'text-amber-700';
    out.push(
      <span key={`${keyBase}-t${i}`} className={cls}>
        {m[0]}
      </span>,
    );
    last = idx + m[0].length;
    i++;
  }
  if (last < text.length) out.push(...keywords(text.slice(last), `${keyBase}-end`));
  return out;
}

function keywords(text: string, keyBase: string): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  let i = 0;
  for (const m of text.matchAll(SQL_KEYWORDS)) {
    const idx = m.index ?? 0;
    if (idx > last) out.push(text.slice(last, idx));
    out.push(
      <span key={`${keyBase}-${i++}`} className="font-semibold text-sky-700">
        {m[0]}
      </span>,
    );
    last = idx + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Highlights one line of YAML: comments, keys, list dashes, quoted strings, embedded SQL. */
export function highlightYamlLine(line: string, key: string): ReactNode[] {
  const comment = /(^|\s)#.*$/.exec(line);
  const code = comment ? line.slice(0, comment.index + comment[1]!.length) : line;
  const tail = comment ? line.slice(code.length) : '';
  const out: ReactNode[] = [];
  const m = /^(\s*)(-\s+)?([A-Za-z_][\w.-]*)(\s*:)(.*)$/.exec(code);
  if (m) {
    out.push(m[1]!);
    if (m[2]) out.push(<span key={`${key}-d`} className="text-zinc-400">{m[2]}</span>);
    out.push(<span key={`${key}-k`} className="text-rose-700">{m[3]}</span>, <span key={`${key}-c`} className="text-zinc-400">{m[4]}</span>);
    out.push(...sqlTokens(m[5]!, `${key}-v`));
  } else {
    const dash = /^(\s*)(-\s+)(.*)$/.exec(code);
    if (dash) {
      out.push(dash[1]!, <span key={`${key}-d`} className="text-zinc-400">{dash[2]}</span>, ...sqlTokens(dash[3]!, `${key}-v`));
    } else out.push(...sqlTokens(code, `${key}-v`));
  }
  if (tail) out.push(<span key={`${key}-cm`} className="italic text-zinc-400">{tail}</span>);
  return out;
}
