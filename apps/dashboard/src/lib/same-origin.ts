/**
 * CSRF guard for state-changing requests that are not Server Actions (which Next checks itself):
 * the browser's Fetch Metadata / Origin must name this dashboard. SameSite=strict on the session
 * cookie is the first line; this is the second.
 */
export function isSameOriginRequest(headers: Headers): boolean {
  const site = headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin' && site !== 'none') return false;
  const origin = headers.get('origin');
  if (origin === null) return site !== null; // no Origin: only trust browsers that sent Fetch Metadata
  const host = headers.get('x-forwarded-host') ?? headers.get('host');
  try {
    return host !== null && new URL(origin).host === host;
  } catch {
    return false;
  }
}
