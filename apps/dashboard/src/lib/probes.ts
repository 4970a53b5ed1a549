/**
 * Sync API health as the Overview page shows it: `GET /probes/liveness` and `/probes/readiness`,
 * fetched server-side without credentials.
 */
import { syncApiUrl } from '../env.ts';
import { describeFetchError, syncApiFetch } from './sync-api-fetch.ts';

const MAX_BODY_CHARS = 4_000;

export type ProbeOutcome =
  | { readonly state: 'up' | 'down'; readonly status: number; readonly latencyMs: number; readonly body: string }
  | { readonly state: 'unreachable'; readonly error: string; readonly latencyMs: number };

export interface SyncApiHealth {
  readonly url: string;
  readonly checkedAt: Date;
  readonly liveness: ProbeOutcome;
  readonly readiness: ProbeOutcome;
}

function prettyBody(text: string): string {
  const clipped = text.length > MAX_BODY_CHARS ? `${text.slice(0, MAX_BODY_CHARS)}…` : text;
  try {
    return JSON.stringify(JSON.parse(clipped), null, 2);
  } catch {
    return clipped;
  }
}

export async function probe(path: '/probes/liveness' | '/probes/readiness'): Promise<ProbeOutcome> {
  const started = performance.now();
  try {
    const res = await syncApiFetch(path);
    const body = prettyBody(await res.text());
    const latencyMs = Math.round(performance.now() - started);
    return { state: res.ok ? 'up' : 'down', status: res.status, latencyMs, body };
  } catch (e) {
    return { state: 'unreachable', error: describeFetchError(e), latencyMs: Math.round(performance.now() - started) };
  }
}

export async function checkSyncApiHealth(): Promise<SyncApiHealth> {
  const [liveness, readiness] = await Promise.all([probe('/probes/liveness'), probe('/probes/readiness')]);
  return { url: syncApiUrl(), checkedAt: new Date(), liveness, readiness };
}
