/**
 * JWT handling of the example backend: verifies the users' tokens with the same HS256 secret the
 * sync API uses (JWT_SECRET, base64url; JWT_SECRET_KID when set) and, in dev mode only, signs
 * tokens for a user id so the app can "log in" as user-1…user-5 of the demo.
 */
import * as jose from 'jose';
import { UploadError } from './upload-errors.ts';

export interface TokenKeys {
  /** Decoded HS256 secret bytes. */
  secret: Uint8Array;
  kid: string | undefined;
}

export function keysFromSecret(base64url: string, kid: string | undefined): TokenKeys {
  return { secret: new Uint8Array(Buffer.from(base64url, 'base64url')), kid };
}

/** Returns the user id (`sub`) of a valid `Authorization: Bearer` header, or throws UNAUTHENTICATED. */
export async function verifyBearer(header: string | undefined, keys: TokenKeys): Promise<string> {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m) throw new UploadError('UNAUTHENTICATED', 'Send the user\'s JWT as "Authorization: Bearer <token>".');
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(m[1]!, keys.secret, { algorithms: ['HS256'] });
    if (keys.kid !== undefined && protectedHeader.kid !== keys.kid) throw new Error('kid mismatch');
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new Error('no sub');
    return payload.sub;
  } catch {
    throw new UploadError('UNAUTHENTICATED', 'The token is invalid or expired; fetch a new one and retry.');
  }
}

/** Signs a dev token (dev mode only; a real app gets tokens from its auth provider). */
export async function signDevToken(userId: string, keys: TokenKeys, ttlSeconds = 3600): Promise<{ token: string; expiresAt: Date }> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new jose.SignJWT({})
    .setProtectedHeader(keys.kid ? { alg: 'HS256', typ: 'JWT', kid: keys.kid } : { alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(keys.secret);
  return { token, expiresAt: new Date((now + ttlSeconds) * 1000) };
}
