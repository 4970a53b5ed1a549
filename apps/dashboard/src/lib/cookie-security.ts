/**
 * Whether the session cookie gets the `Secure` attribute. The configured public URL decides
 * (DASHBOARD_PUBLIC_URL https → always Secure, http → never), so a proxy that forgets
 * `X-Forwarded-Proto` or a client that forges it cannot downgrade the cookie. Only without a
 * configured public URL (local development) does the header decide.
 *
 * @example
 * cookieIsSecure('https://admin.example.com', null); // true
 */
export function cookieIsSecure(publicUrl: string | undefined, forwardedProto: string | null): boolean {
  if (publicUrl !== undefined) return new URL(publicUrl).protocol === 'https:';
  return forwardedProto?.split(',')[0]?.trim().toLowerCase() === 'https';
}
