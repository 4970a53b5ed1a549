/**
 * Postgres LSNs (`16/B374D848`) normalised to a fixed-width, lexicographically comparable form
 * (`00000016/B374D848`), as stored in storage and compared when releasing write checkpoints.
 */
export const ZERO_LSN = '00000000/00000000';

export function normalizeLsn(lsn: string): string {
  const [hi, lo] = lsn.split('/');
  if (hi === undefined || lo === undefined || !/^[0-9A-Fa-f]{1,8}$/.test(hi) || !/^[0-9A-Fa-f]{1,8}$/.test(lo)) {
    throw new Error(`Invalid LSN "${lsn}"`);
  }
  return `${hi.toUpperCase().padStart(8, '0')}/${lo.toUpperCase().padStart(8, '0')}`;
}

export function lsnToBigInt(lsn: string): bigint {
  const [hi, lo] = normalizeLsn(lsn).split('/') as [string, string];
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

export function bigIntToLsn(value: bigint): string {
  const hi = (value >> 32n).toString(16).toUpperCase().padStart(8, '0');
  const lo = (value & 0xffffffffn).toString(16).toUpperCase().padStart(8, '0');
  return `${hi}/${lo}`;
}

export function maxLsn(a: string, b: string): string {
  return normalizeLsn(a) >= normalizeLsn(b) ? normalizeLsn(a) : normalizeLsn(b);
}
