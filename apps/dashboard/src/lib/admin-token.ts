/**
 * Checks an admin token typed on the login page.
 *
 * The sync API is the authority: `GET /api/admin/v1/whoami` with the token → 200 accepts, 401/403
 * rejects. When that endpoint is not available (404/405, network error, 5xx) the dashboard falls back
 * to a timing-safe comparison with its own ADMIN_TOKEN, so an operator can still log in and see that
 * the sync API is down.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { serverEnv } from '../env.ts';
import { syncApiFetch } from './sync-api-fetch.ts';

export type TokenCheck =
  | { readonly ok: true; readonly via: 'sync-api' | 'local' }
  | { readonly ok: false; readonly reason: 'invalid' };

/** Constant-time string equality (hashes first, so lengths leak nothing either). */
export function timingSafeStringEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

export async function checkAdminToken(candidate: string): Promise<TokenCheck> {
  if (candidate.length === 0 || candidate.length > 4096) return { ok: false, reason: 'invalid' };
  try {
    const res = await syncApiFetch('/api/admin/v1/whoami', { bearer: candidate });
    await res.body?.cancel();
    if (res.status === 200) return { ok: true, via: 'sync-api' };
    if (res.status === 401 || res.status === 403) return { ok: false, reason: 'invalid' };
  } catch {
    // Unreachable or timed out: fall through to the local comparison.
  }
  return timingSafeStringEqual(candidate, serverEnv().ADMIN_TOKEN)
    ? { ok: true, via: 'local' }
    : { ok: false, reason: 'invalid' };
}
