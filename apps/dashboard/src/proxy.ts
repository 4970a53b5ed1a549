/**
 * Request gate (Next 16 "proxy", formerly middleware; runs on the Node.js runtime): visitors without
 * a valid session are sent to /login, API calls get 401. Pages and route handlers check the session
 * again themselves — this is the first, cheap line.
 */
import { NextResponse, type NextRequest } from 'next/server';
import { readSession, SESSION_COOKIE } from '@/lib/session.ts';

export function proxy(req: NextRequest): NextResponse {
  const { pathname, search } = req.nextUrl;
  const session = readSession(req.cookies.get(SESSION_COOKIE)?.value);

  if (pathname === '/login') {
    return session ? NextResponse.redirect(new URL('/', req.url)) : NextResponse.next();
  }
  if (session) return NextResponse.next();

  if (pathname.startsWith('/api/')) {
    return NextResponse.json(
      { error: { message: 'Not logged in to the dashboard.', data: { code: 'UNAUTHORIZED', httpStatus: 401 } } },
      { status: 401 },
    );
  }
  const login = new URL('/login', req.url);
  if (pathname !== '/') login.searchParams.set('next', `${pathname}${search}`);
  return NextResponse.redirect(login);
}

export const config = {
  // Everything except build assets and static files.
  matcher: ['/((?!_next/static|_next/image|favicon.ico|robots.txt).*)'],
};
