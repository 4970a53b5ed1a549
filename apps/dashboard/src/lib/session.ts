/**
 * Dashboard login sessions: a random session id plus an expiry, HMAC-SHA256 signed, carried in an
 * httpOnly SameSite=strict cookie. The cookie never contains the admin token.
 *
 * Cookie value: `v1.<sid>.<expiresAtUnixSeconds>.<mac>` (sid and mac base64url).
 * Signing key: DASHBOARD_SESSION_SECRET, or one derived from ADMIN_TOKEN, so rotating the admin token
 * ends every session. Logout adds the sid to a per-process revocation list until it expires.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { serverEnv } from '../env.ts';

export const SESSION_COOKIE = 'syncline_session';

export interface Session {
  readonly sid: string;
  readonly expiresAt: number;
}

const MAX_REVOKED = 10_000;

interface RevocationList {
  readonly bySid: Map<string, number>;
}

/** One list per process, shared by route handlers, server actions and proxy (module copies differ). */
function revocations(): RevocationList {
  const key = Symbol.for('syncline.dashboard.revokedSessions');
  const g = globalThis as unknown as Record<symbol, RevocationList | undefined>;
  let list = g[key];
  if (!list) {
    list = { bySid: new Map() };
    g[key] = list;
  }
  return list;
}

function signingKey(): Buffer {
  const env = serverEnv();
  if (env.DASHBOARD_SESSION_SECRET) return Buffer.from(env.DASHBOARD_SESSION_SECRET, 'utf8');
  return createHmac('sha256', env.ADMIN_TOKEN).update('syncline-dashboard-session-v1').digest();
}

function mac(payload: string): Buffer {
  return createHmac('sha256', signingKey()).update(payload).digest();
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Creates a new session and the cookie value that carries it. */
export function createSession(): { session: Session; cookieValue: string; maxAgeSeconds: number } {
  const ttl = serverEnv().DASHBOARD_SESSION_TTL_SECONDS;
  const session: Session = { sid: randomBytes(18).toString('base64url'), expiresAt: nowSeconds() + ttl };
  const payload = `v1.${session.sid}.${session.expiresAt}`;
  return { session, cookieValue: `${payload}.${mac(payload).toString('base64url')}`, maxAgeSeconds: ttl };
}

/** Returns the session a cookie value carries if its signature is valid, it has not expired and was not logged out. */
export function readSession(cookieValue: string | undefined): Session | null {
  if (!cookieValue || cookieValue.length > 256) return null;
  const parts = cookieValue.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1') return null;
  const [, sid, exp, sig] = parts as [string, string, string, string];
  if (!/^[A-Za-z0-9_-]{24}$/.test(sid) || !/^\d{1,12}$/.test(exp)) return null;
  const expected = mac(`v1.${sid}.${exp}`);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const expiresAt = Number(exp);
  if (expiresAt <= nowSeconds()) return null;
  if (revocations().bySid.has(sid)) return null;
  return { sid, expiresAt };
}

/** Ends a session for this process (the caller also clears the cookie). */
export function revokeSession(session: Session): void {
  const list = revocations().bySid;
  const now = nowSeconds();
  for (const [sid, exp] of list) {
    if (exp <= now) list.delete(sid);
  }
  if (list.size >= MAX_REVOKED) {
    const oldest = list.keys().next();
    if (!oldest.done) list.delete(oldest.value);
  }
  list.set(session.sid, session.expiresAt);
}

/** Cookie attributes for the session cookie (secure whenever the dashboard is served over https). */
export function sessionCookieOptions(secure: boolean, maxAgeSeconds: number) {
  return { httpOnly: true, sameSite: 'strict', secure, path: '/', maxAge: maxAgeSeconds } as const;
}
