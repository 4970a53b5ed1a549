/**
 * Tiny YAML + sync-rules SQL highlighter for the rules editor (one line at a time). Knows the
 * Sync Streams (edition 3) keys (`streams`, `with`, `query`/`queries`, `auto_subscribe`,
 * `priority`, `config`/`edition`) and the request functions inside SQL scalars (`auth.*`,
 * `subscription.*`, `connection.*`, and the legacy `request.*`/`bucket.*`). Each token carries
 * `data-hl` naming its kind.
 */
import type { ReactNode } from 'react';

const SQL_KEYWORDS = /\b(SELECT|FROM|WHERE|AND|OR|NOT|AS|IN|IS|NULL|TRUE|FALSE|LIKE|CAST|CASE|WHEN|THEN|ELSE|END|JOIN|INNER|ON|BETWEEN|WITH)\b/gi;

/** YAML keys with a meaning in sync configs (edition 3 streams and the config block). */
const STREAM_KEYS = new Set(['streams', 'with', 'query', 'queries', 'auto_subscribe', 'priority', 'accept_potentially_dangerous_queries', 'config', 'edition', 'bucket_definitions', 'parameters', 'data']);

type TokenKind = 'string' | 'request-fn' | 'legacy-fn' | 'number';

const TOKEN_CLASSES: Record<TokenKind, string> = {
  string: 'text-emerald-700',
  'request-fn': 'font-medium text-fuchsia-700',
  'legacy-fn': 'text-violet-700',
  number: 'text-amber-700',
};

function sqlTokens(text: string, keyBase: string): ReactNode[] {
  const out: ReactNode[] = [];
  const re =
    /('(?:[^']|'')*')|(\b(?:auth|subscription|connection)\.[A-Za-z_]\w*(?:\s*\([^()]*\))?)|(\b(?:request|bucket|token_parameters|user_parameters)\.[A-Za-z_]\w*(?:\(\))?)|(\b\d+(?:\.\d+)?\b)/g;
  let last = 0;
  let i = 0;
  for (const m of text.matchAll(re)) {
    const idx = m.index ?? 0;
    if (idx > last) out.push(...keywords(text.slice(last, idx), `${keyBase}-k${i}`));
    const kind: TokenKind = m[1] ? 'string' : m[2] ? 'request-fn' : m[3] ? 'legacy-fn' : 'number';
    out.push(
      <span key={`${keyBase}-t${i}`} data-hl={kind} className={TOKEN_CLASSES[kind]}>
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
      <span key={`${keyBase}-${i++}`} data-hl="sql-keyword" className="font-semibold text-sky-700">
        {m[0]}
      </span>,
    );
    last = idx + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Highlights one line of YAML: comments, keys (stream keys apart), list dashes, quoted strings, embedded SQL. */
export function highlightYamlLine(line: string, key: string): ReactNode[] {
  const comment = /(^|\s)#.*$/.exec(line);
  const code = comment ? line.slice(0, comment.index + comment[1]!.length) : line;
  const tail = comment ? line.slice(code.length) : '';
  const out: ReactNode[] = [];
  const m = /^(\s*)(-\s+)?([A-Za-z_][\w.-]*)(\s*:)(.*)$/.exec(code);
  if (m) {
    out.push(m[1]!);
    if (m[2]) out.push(<span key={`${key}-d`} className="text-zinc-400">{m[2]}</span>);
    const special = STREAM_KEYS.has(m[3]!);
    out.push(
      <span key={`${key}-k`} data-hl={special ? 'stream-key' : 'key'} className={special ? 'font-semibold text-indigo-700' : 'text-rose-700'}>
        {m[3]}
      </span>,
      <span key={`${key}-c`} className="text-zinc-400">{m[4]}</span>,
    );
    out.push(...valueTokens(m[3]!, m[5]!, `${key}-v`));
  } else {
    const dash = /^(\s*)(-\s+)(.*)$/.exec(code);
    if (dash) {
      out.push(dash[1]!, <span key={`${key}-d`} className="text-zinc-400">{dash[2]}</span>, ...sqlTokens(dash[3]!, `${key}-v`));
    } else out.push(...sqlTokens(code, `${key}-v`));
  }
  if (tail) out.push(<span key={`${key}-cm`} className="italic text-zinc-400">{tail}</span>);
  return out;
}

/** `auto_subscribe: true` / `accept_…: false` get a boolean colour; everything else may be SQL. */
function valueTokens(key: string, value: string, keyBase: string): ReactNode[] {
  const bool = /^(\s*)(true|false)(\s*)$/.exec(value);
  if (bool && (key === 'auto_subscribe' || key === 'accept_potentially_dangerous_queries')) {
    return [
      bool[1]!,
      <span key={`${keyBase}-b`} data-hl="boolean" className="text-orange-700">
        {bool[2]}
      </span>,
      bool[3]!,
    ];
  }
  return sqlTokens(value, keyBase);
}
