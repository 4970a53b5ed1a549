'use server';
/**
 * Login and logout as Server Actions (Next checks their Origin; the session cookie is httpOnly and
 * SameSite=strict). The admin token typed by the operator is checked and then forgotten: only a
 * signed session id is stored in the browser.
 */
import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { serverEnv } from '../env.ts';
import { checkAdminToken } from './admin-token.ts';
import { cookieIsSecure } from './cookie-security.ts';
import { loginRetryAfterSeconds, recordLoginFailure } from './login-throttle.ts';
import { safeNextPath } from './safe-next-path.ts';
import { createSession, readSession, revokeSession, SESSION_COOKIE, sessionCookieOptions } from './session.ts';

export interface LoginState {
  readonly error: string | null;
}

async function isHttps(): Promise<boolean> {
  return cookieIsSecure(serverEnv().DASHBOARD_PUBLIC_URL, (await headers()).get('x-forwarded-proto'));
}

export async function login(_prev: LoginState, form: FormData): Promise<LoginState> {
  const retryAfter = loginRetryAfterSeconds();
  if (retryAfter > 0) return { error: `Too many failed attempts. Try again in ${retryAfter} s.` };

  try {
    serverEnv();
  } catch (e) {
    // Names the bad variable only, never a value.
    return { error: `The dashboard is misconfigured: ${e instanceof Error ? e.message : String(e)}` };
  }

  const raw = form.get('token');
  const token = typeof raw === 'string' ? raw.trim() : '';
  if (token === '') return { error: 'Enter the admin token.' };

  const check = await checkAdminToken(token);
  if (!check.ok) {
    recordLoginFailure();
    return { error: 'Invalid admin token. Use the ADMIN_TOKEN the sync API was started with.' };
  }

  const { cookieValue, maxAgeSeconds } = createSession();
  (await cookies()).set(SESSION_COOKIE, cookieValue, sessionCookieOptions(await isHttps(), maxAgeSeconds));
  redirect(safeNextPath(form.get('next')));
}

export async function logout(): Promise<void> {
  const jar = await cookies();
  const session = readSession(jar.get(SESSION_COOKIE)?.value);
  if (session) revokeSession(session);
  jar.delete({ name: SESSION_COOKIE, path: '/' });
  redirect('/login');
}
