import { describe, expect, it } from 'vitest';
import { cookieIsSecure } from '../src/lib/cookie-security.ts';

describe('session cookie Secure flag', () => {
  it('is set for an https public URL even when the proxy sends no X-Forwarded-Proto', () => {
    expect(cookieIsSecure('https://admin.example.com', null)).toBe(true);
  });

  it('cannot be downgraded by a forged X-Forwarded-Proto when the public URL is https', () => {
    expect(cookieIsSecure('https://admin.example.com', 'http')).toBe(true);
  });

  it('follows the public URL over the header when the URL is http', () => {
    expect(cookieIsSecure('http://127.0.0.1:3000', 'https')).toBe(false);
  });

  it('falls back to X-Forwarded-Proto without a public URL (local development)', () => {
    expect(cookieIsSecure(undefined, 'https')).toBe(true);
    expect(cookieIsSecure(undefined, 'https, http')).toBe(true);
    expect(cookieIsSecure(undefined, null)).toBe(false);
  });
});
