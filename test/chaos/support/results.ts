/** Appends one scenario's figures to the file in CHAOS_RESULTS (JSON lines), for RELIABILITY.md. */
import { appendFile } from 'node:fs/promises';

export async function recordResult(scenario: string, figures: Record<string, unknown>): Promise<void> {
  const file = process.env.CHAOS_RESULTS;
  if (!file) return;
  await appendFile(file, JSON.stringify({ scenario, at: new Date().toISOString(), ...figures }) + '\n');
}

export const envNumber = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};
