/**
 * Postgres date/time text (DateStyle ISO, as pgoutput and `SELECT` send it) → synced text,
 * per edition (reference §6.5).
 *
 * | type        | legacy (edition 1)                          | ISO (`timestamps_iso8601`)              |
 * |-------------|---------------------------------------------|-----------------------------------------|
 * | date        | `YYYY-MM-DD`                                | same                                    |
 * | timestamptz | `YYYY-MM-DD HH:MM:SS[.frac]Z` in UTC        | `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC    |
 * | timestamp   | source text                                 | `YYYY-MM-DDTHH:MM:SS.ffffff`            |
 * | time/timetz | source text                                 | `HH:MM:SS.ffffff[offset]`               |
 *
 * `ffffff` has 6 digits, or as many as `timestamp_max_precision` says (0/3/6/9), truncated.
 * Infinity: dates → `9999-12-31` / `0000-01-01`; timestamptz → `9999-12-31T23:59:59Z` /
 * `0000-01-01T00:00:00Z` (space instead of `T` in legacy); timestamp in ISO mode →
 * `9999-12-31T23:59:59` / `0000-01-01T00:00:00`, legacy keeps the source text.
 * BC dates use astronomical years (1 BC = year 0000). Unparseable text is passed through.
 */
import type { TimestampPrecision } from './compatibility.ts';

export interface DateTimeOptions {
  timestampsIso8601: boolean;
  timestampMaxPrecision?: TimestampPrecision | undefined;
}

const PRECISION_DIGITS: Record<TimestampPrecision, number> = { seconds: 0, milliseconds: 3, microseconds: 6, nanoseconds: 9 };

const TIMESTAMP = /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?( BC)?$/;
const DATE = /^(\d{4,})-(\d{2})-(\d{2})( BC)?$/;
const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(.*)$/;

function fraction(frac: string, opts: DateTimeOptions): string {
  const digits = PRECISION_DIGITS[opts.timestampMaxPrecision ?? 'microseconds'];
  return digits === 0 ? '' : `.${frac.padEnd(digits, '0').slice(0, digits)}`;
}

function pad(n: number, width = 2): string {
  const s = String(Math.abs(n)).padStart(width, '0');
  return n < 0 ? `-${s}` : s;
}

function astronomicalYear(year: number, bc: boolean): number {
  return bc ? 1 - year : year;
}

/** `date` text → `YYYY-MM-DD`. */
export function pgDateToText(text: string): string {
  if (text === 'infinity') return '9999-12-31';
  if (text === '-infinity') return '0000-01-01';
  const m = DATE.exec(text);
  if (!m || !m[4]) return text;
  return `${pad(astronomicalYear(Number(m[1]), true), 4)}-${m[2]}-${m[3]}`;
}

/** `timestamp` / `timestamptz` text → synced text. `withZone` selects timestamptz handling. */
export function pgTimestampToText(text: string, withZone: boolean, opts: DateTimeOptions): string {
  const iso = opts.timestampsIso8601;
  const sep = iso ? 'T' : ' ';
  if (text === 'infinity' || text === '-infinity') {
    if (!withZone && !iso) return text;
    const base = text === 'infinity' ? `9999-12-31${sep}23:59:59` : `0000-01-01${sep}00:00:00`;
    return withZone ? `${base}Z` : base;
  }
  if (!withZone && !iso) return text;
  const m = TIMESTAMP.exec(text);
  if (!m) return text;
  const [, y, mo, d, h, mi, s, frac = '', sign, oh, om, os, bc] = m;
  let year = astronomicalYear(Number(y), bc !== undefined);
  let month = Number(mo);
  let day = Number(d);
  let hour = Number(h);
  let minute = Number(mi);
  let second = Number(s);
  if (withZone && sign) {
    const offset = (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0));
    if (offset !== 0) {
      const date = new Date(0);
      date.setUTCFullYear(year, month - 1, day);
      date.setUTCHours(hour, minute, second - offset, 0);
      year = date.getUTCFullYear();
      month = date.getUTCMonth() + 1;
      day = date.getUTCDate();
      hour = date.getUTCHours();
      minute = date.getUTCMinutes();
      second = date.getUTCSeconds();
    }
  }
  const datePart = `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
  const timePart = `${pad(hour)}:${pad(minute)}:${pad(second)}`;
  const fracPart = iso ? fraction(frac, opts) : frac ? `.${frac}` : '';
  return `${datePart}${sep}${timePart}${fracPart}${withZone ? 'Z' : ''}`;
}

/** `time` / `timetz` text → synced text (ISO mode pads sub-seconds; legacy passes through). */
export function pgTimeToText(text: string, opts: DateTimeOptions): string {
  if (!opts.timestampsIso8601) return text;
  const m = TIME.exec(text);
  if (!m) return text;
  const [, h, mi, s, frac = '', zone = ''] = m;
  return `${h}:${mi}:${s}${fraction(frac, opts)}${zone}`;
}
