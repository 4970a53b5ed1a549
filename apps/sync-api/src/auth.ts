/**
 * Client JWT verification (jose): HS256 secret, JWKS URI (cached and refreshed by jose), `kid`
 * matching, audience, expiry with 60 s skew, lifetime ≤ 24 h. Every failure is a 401 with a stable
 * code and a message saying which check failed; the token itself is never echoed or logged.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as jose from 'jose';
import { ServiceError } from '@syncline/protocol';

export interface VerifiedToken {
  userId: string;
  claims: Record<string, unknown>;
  /** Expiry, seconds since epoch. */
  expiresAt: number;
}

export interface AuthOptions {
  jwtSecret?: string;
  jwksUri?: string;
  audience?: string[];
  maxLifetimeSeconds?: number;
}

const CLOCK_SKEW = 60;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const FAST_HEADER_KEYS = new Set(['alg', 'typ', 'kid']);
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export class TokenVerifier {
  private readonly secret: Uint8Array | null;
  private readonly jwks: ReturnType<typeof jose.createRemoteJWKSet> | null;

  constructor(private readonly o: AuthOptions) {
    this.secret = o.jwtSecret ? Buffer.from(o.jwtSecret, 'base64url') : null;
    this.jwks = o.jwksUri ? jose.createRemoteJWKSet(new URL(o.jwksUri), { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000 }) : null;
  }

  /** Extracts the JWT from `Token <jwt>` / `Bearer <jwt>`. */
  static fromHeader(header: string | undefined): string {
    const m = header ? /^(Token|Bearer) (\S+)$/.exec(header) : null;
    if (!m) throw new ServiceError('AUTH_MISSING', 'Missing or malformed Authorization header: expected "Token <jwt>" or "Bearer <jwt>".');
    return m[2]!;
  }

  async verify(token: string): Promise<VerifiedToken> {
    let header: jose.ProtectedHeaderParameters;
    try {
      header = jose.decodeProtectedHeader(token);
    } catch {
      throw new ServiceError('AUTH_INVALID', 'Token is not a JWT (could not decode its header).');
    }
    const alg = header.alg ?? '';
    const verifyOptions: jose.JWTVerifyOptions = { clockTolerance: CLOCK_SKEW, ...(this.o.audience ? { audience: this.o.audience } : {}) };
    let payload: jose.JWTPayload;
    try {
      if (alg.startsWith('HS')) {
        if (!this.secret) throw new ServiceError('AUTH_INVALID', `Token uses ${alg} but no JWT_SECRET is configured.`);
        payload =
          (alg === 'HS256' ? this.verifyHs256Fast(token, header) : null) ??
          (await jose.jwtVerify(token, this.secret, { ...verifyOptions, algorithms: ['HS256', 'HS384', 'HS512'] })).payload;
      } else {
        if (!this.jwks) throw new ServiceError('AUTH_INVALID', `Token uses ${alg} but no JWKS_URI is configured.`);
        if (!header.kid) throw new ServiceError('AUTH_INVALID', 'Token header has no "kid"; tokens verified with a JWKS must name their key.');
        ({ payload } = await jose.jwtVerify(token, this.jwks, { ...verifyOptions, algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] }));
      }
    } catch (e) {
      throw toAuthError(e, header.kid);
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new ServiceError('AUTH_INVALID', 'Token has no "sub" claim (the user id).');
    if (typeof payload.exp !== 'number') throw new ServiceError('AUTH_INVALID', 'Token has no "exp" claim; tokens must expire.');
    const maxLifetime = this.o.maxLifetimeSeconds ?? 86_400;
    const issuedAt = typeof payload.iat === 'number' ? payload.iat : Math.floor(Date.now() / 1000);
    if (payload.exp - issuedAt > maxLifetime + CLOCK_SKEW) {
      throw new ServiceError('AUTH_INVALID', `Token lifetime (exp - iat) exceeds ${maxLifetime} seconds; issue shorter-lived tokens.`);
    }
    return { userId: payload.sub, claims: payload as Record<string, unknown>, expiresAt: payload.exp };
  }

  /**
   * Synchronous HS256 check with node:crypto (WebCrypto through jose costs ~0.2 ms per token, which
   * dominates connection storms). It only ever accepts: a token it accepts passes every check
   * jose.jwtVerify makes with our options (plain header, signature, claims-set object, exp/nbf with
   * CLOCK_SKEW, numeric iat, audience). Anything else returns null and goes through jose, so
   * failures keep jose's exact errors (mapped by toAuthError).
   */
  private verifyHs256Fast(token: string, header: jose.ProtectedHeaderParameters): jose.JWTPayload | null {
    for (const k of Object.keys(header)) if (!FAST_HEADER_KEYS.has(k)) return null;
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [h, p, sig] = parts as [string, string, string];
    if (!BASE64URL.test(h) || !BASE64URL.test(p) || !BASE64URL.test(sig)) return null;
    const expected = Buffer.from(createHmac('sha256', this.secret!).update(`${h}.${p}`).digest('base64url'));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    let claims: unknown;
    try {
      claims = JSON.parse(strictUtf8.decode(Buffer.from(p, 'base64url')));
    } catch {
      return null;
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return null;
    const proto = Object.getPrototypeOf(claims) as unknown;
    if (proto !== Object.prototype && proto !== null) return null;
    const c = claims as jose.JWTPayload;
    const now = Math.floor(Date.now() / 1000);
    if (typeof c.exp !== 'number' || c.exp <= now - CLOCK_SKEW) return null;
    if (c.nbf !== undefined && (typeof c.nbf !== 'number' || c.nbf > now + CLOCK_SKEW)) return null;
    if (c.iat !== undefined && typeof c.iat !== 'number') return null;
    const audience = this.o.audience;
    if (audience) {
      const aud = c.aud;
      const ok = typeof aud === 'string' ? audience.includes(aud) : Array.isArray(aud) && audience.some((a) => aud.includes(a));
      if (!ok) return null;
    }
    return c;
  }
}

function toAuthError(e: unknown, kid: string | undefined): ServiceError {
  if (e instanceof ServiceError) return e;
  if (e instanceof jose.errors.JWTExpired) return new ServiceError('AUTH_EXPIRED', 'Token has expired; fetch a new one.');
  if (e instanceof jose.errors.JWTClaimValidationFailed) {
    if (e.claim === 'aud') return new ServiceError('AUTH_INVALID', 'Token audience ("aud") does not match JWT_AUDIENCE.');
    if (e.claim === 'nbf') return new ServiceError('AUTH_INVALID', 'Token is not valid yet ("nbf" is in the future).');
    return new ServiceError('AUTH_INVALID', `Token claim "${e.claim}" is invalid: ${e.reason}.`);
  }
  if (e instanceof jose.errors.JWKSNoMatchingKey) return new ServiceError('AUTH_INVALID', `No key with kid "${kid ?? ''}" in the JWKS.`);
  if (e instanceof jose.errors.JWSSignatureVerificationFailed) return new ServiceError('AUTH_INVALID', 'Token signature does not verify with the configured key.');
  if (e instanceof jose.errors.JOSEAlgNotAllowed) return new ServiceError('AUTH_INVALID', 'Token algorithm is not allowed.');
  if (e instanceof jose.errors.JWKSTimeout || e instanceof jose.errors.JOSEError) return new ServiceError('AUTH_INVALID', `Token could not be verified (${e.code}).`);
  return new ServiceError('AUTH_INVALID', 'Token could not be verified.');
}

/** Mints a short-lived HS256 user token (dev mode / dashboard "connect as this user"). */
export async function mintDevToken(secret: string, userId: string, opts: { ttlSeconds?: number; audience?: string; claims?: Record<string, unknown> } = {}): Promise<{ token: string; expiresAt: number }> {
  const ttl = Math.min(opts.ttlSeconds ?? 12 * 3600, 86_400);
  const now = Math.floor(Date.now() / 1000);
  let jwt = new jose.SignJWT({ ...opts.claims }).setProtectedHeader({ alg: 'HS256', kid: 'syncline-dev' }).setSubject(userId).setIssuedAt(now).setExpirationTime(now + ttl);
  if (opts.audience) jwt = jwt.setAudience(opts.audience);
  return { token: await jwt.sign(Buffer.from(secret, 'base64url')), expiresAt: now + ttl };
}

/** Constant-time admin token check for `Authorization: Bearer <ADMIN_TOKEN>`. */
export function checkAdminToken(header: string | undefined, adminToken: string): void {
  const m = header ? /^Bearer (\S+)$/.exec(header) : null;
  const given = Buffer.from(m?.[1] ?? '');
  const expected = Buffer.from(adminToken);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ServiceError('ADMIN_AUTH', 'Admin endpoints need "Authorization: Bearer <ADMIN_TOKEN>".');
  }
}
