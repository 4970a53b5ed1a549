/**
 * SQL operators with SQLite semantics: comparison (NULL if either side is NULL), three-valued
 * AND/OR/NOT, arithmetic (INTEGER op INTEGER stays INTEGER, overflow → REAL, division by zero →
 * NULL), `||`, `IN` lists.
 */
import { castAsText } from './sqlite-cast.ts';
import { compareValues, fromBoolean, integerResult, SQL_FALSE, SQL_TRUE, toBoolean, toNumeric, valuesEqual } from './sqlite-values.ts';
import type { SqliteValue } from './types.ts';

export type ComparisonOp = '=' | '!=' | '<' | '>' | '<=' | '>=';
export type ArithmeticOp = '+' | '-' | '*' | '/' | '%';

export function compare(op: ComparisonOp, a: SqliteValue, b: SqliteValue): SqliteValue {
  if (a === null || b === null) return null;
  switch (op) {
    case '=':
      return fromBoolean(valuesEqual(a, b));
    case '!=':
      return fromBoolean(!valuesEqual(a, b));
    case '<':
      return fromBoolean(compareValues(a, b) < 0);
    case '>':
      return fromBoolean(compareValues(a, b) > 0);
    case '<=':
      return fromBoolean(compareValues(a, b) <= 0);
    case '>=':
      return fromBoolean(compareValues(a, b) >= 0);
  }
}

export function and(a: SqliteValue, b: () => SqliteValue): SqliteValue {
  const left = toBoolean(a);
  if (left === false) return SQL_FALSE;
  const right = toBoolean(b());
  if (right === false) return SQL_FALSE;
  return left === null || right === null ? null : SQL_TRUE;
}

export function or(a: SqliteValue, b: () => SqliteValue): SqliteValue {
  const left = toBoolean(a);
  if (left === true) return SQL_TRUE;
  const right = toBoolean(b());
  if (right === true) return SQL_TRUE;
  return left === null || right === null ? null : SQL_FALSE;
}

export function not(a: SqliteValue): SqliteValue {
  const b = toBoolean(a);
  return b === null ? null : fromBoolean(!b);
}

export function arithmetic(op: ArithmeticOp, a: SqliteValue, b: SqliteValue): SqliteValue {
  const x = toNumeric(a);
  const y = toNumeric(b);
  if (x === null || y === null) return null;
  if (typeof x === 'bigint' && typeof y === 'bigint') {
    switch (op) {
      case '+':
        return integerResult(x + y);
      case '-':
        return integerResult(x - y);
      case '*':
        return integerResult(x * y);
      case '/':
        // BigInt division truncates toward zero, like SQLite.
        return y === 0n ? null : integerResult(x / y);
      case '%':
        return y === 0n ? null : x % y;
    }
  }
  const fx = Number(x);
  const fy = Number(y);
  let r: number;
  switch (op) {
    case '+':
      r = fx + fy;
      break;
    case '-':
      r = fx - fy;
      break;
    case '*':
      r = fx * fy;
      break;
    case '/':
      if (fy === 0) return null;
      r = fx / fy;
      break;
    case '%': {
      // SQLite computes % on the integer parts and returns a REAL when an operand is REAL.
      const iy = Math.trunc(fy);
      if (iy === 0) return null;
      r = Math.trunc(fx) % iy;
      break;
    }
  }
  return Number.isNaN(r) ? null : r;
}

export function negate(a: SqliteValue): SqliteValue {
  const x = toNumeric(a);
  if (x === null) return null;
  return typeof x === 'bigint' ? integerResult(-x) : -x;
}

export function concat(a: SqliteValue, b: SqliteValue): SqliteValue {
  if (a === null || b === null) return null;
  return (castAsText(a) as string) + (castAsText(b) as string);
}

/** `x IN (a, b, …)`: 1 on a match; NULL when x is NULL or no match but a NULL in the list. */
export function inList(x: SqliteValue, items: SqliteValue[]): SqliteValue {
  if (x === null) return items.length === 0 ? SQL_FALSE : null;
  let sawNull = false;
  for (const item of items) {
    if (item === null) sawNull = true;
    else if (valuesEqual(x, item)) return SQL_TRUE;
  }
  return sawNull ? null : SQL_FALSE;
}

/** `x IS [NOT] TRUE|FALSE` (never NULL). */
export function isBoolean(x: SqliteValue, expected: boolean, negated: boolean): SqliteValue {
  const b = toBoolean(x);
  const matches = b !== null && b === expected;
  return fromBoolean(negated ? !matches : matches);
}
