/**
 * `unixepoch(time, ...modifiers)` and `datetime(time, ...modifiers)` with SQLite's time-value
 * formats. Both need an argument ('now' is rejected: rules must be deterministic).
 *
 * Supported time values: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.fff…]]` (space or `T`), optionally
 * followed by `Z` or `±HH:MM`; numbers are Julian day numbers, or Unix seconds with the
 * `'unixepoch'` modifier. Supported modifiers: `'unixepoch'`, `'subsec'`/`'subsecond'`.
 * Anything else yields NULL.
 */
import { castAsText } from './sqlite-cast.ts';
import type { SqliteValue } from './types.ts';

const TIME_VALUE = /^\s*(-?\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$/i;
const JULIAN_UNIX_EPOCH = 2440587.5;

/** Milliseconds since the Unix epoch (fractional), or null. */
function toEpochMillis(value: SqliteValue, modifiers: SqliteValue[]): { ms: number; subsec: boolean } | null {
  let unixepoch = false;
  let subsec = false;
  for (const m of modifiers) {
    const text = typeof m === 'string' ? m.trim().toLowerCase() : null;
    if (text === 'unixepoch') unixepoch = true;
    else if (text === 'subsec' || text === 'subsecond') subsec = true;
    else return null;
  }
  if (value === null || value instanceof Uint8Array) return null;
  if (typeof value === 'bigint' || typeof value === 'number') {
    const n = Number(value);
    if (!Number.isFinite(n)) return null;
    return { ms: unixepoch ? n * 1000 : (n - JULIAN_UNIX_EPOCH) * 86400000, subsec };
  }
  if (unixepoch) {
    const n = Number(castAsText(value));
    return Number.isFinite(n) ? { ms: n * 1000, subsec } : null;
  }
  const m = TIME_VALUE.exec(value);
  if (!m) {
    const n = Number(value);
    return value.trim() !== '' && Number.isFinite(n) ? { ms: (n - JULIAN_UNIX_EPOCH) * 86400000, subsec } : null;
  }
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', tz] = m;
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), 0);
  let ms = date.getTime() + (frac ? Number(`0${frac}`) * 1000 : 0);
  if (tz && tz.toUpperCase() !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60000;
  }
  return Number.isFinite(ms) ? { ms, subsec } : null;
}

/** `unixepoch(time, ...)`: INTEGER seconds, or REAL with the `'subsec'` modifier. */
export function unixepoch(args: SqliteValue[]): SqliteValue {
  const [value = null, ...mods] = args;
  const t = toEpochMillis(value, mods);
  if (!t || !Number.isFinite(t.ms)) return null;
  return t.subsec ? Math.round(t.ms) / 1000 : BigInt(Math.floor(t.ms / 1000));
}

/** `datetime(time, ...)`: `YYYY-MM-DD HH:MM:SS` (with `.SSS` under `'subsec'`). */
export function datetime(args: SqliteValue[]): SqliteValue {
  const [value = null, ...mods] = args;
  const t = toEpochMillis(value, mods);
  if (!t) return null;
  const ms = t.subsec ? Math.round(t.ms) : Math.floor(t.ms / 1000) * 1000;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return null;
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) return null;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const base = `${pad(year, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return t.subsec ? `${base}.${pad(d.getUTCMilliseconds(), 3)}` : base;
}
