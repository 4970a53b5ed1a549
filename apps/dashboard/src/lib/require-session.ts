import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { readSession, SESSION_COOKIE, type Session } from './session.ts';

/** For server components: the current session, or a redirect to /login. */
export async function requireSession(): Promise<Session> {
  const session = readSession((await cookies()).get(SESSION_COOKIE)?.value);
  if (!session) redirect('/login');
  return session;
}
