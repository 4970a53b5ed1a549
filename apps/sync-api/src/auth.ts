/**
 * Client JWT verification (jose). Keys are pinned: every HS secret (JWT_SECRET, JWT_SECRETS_PREVIOUS)
 * has one algorithm (HS256) and one kid (or none); every JWKS key has its JWK `alg` (or its key
 * type's default) and its kid. A token with a `kid` is checked only against the key with that kid; a
 * token without one only against keys without a kid (several during a rotation). Also: audience,
 * expiry with 60 s skew, `iat` required and not in the future beyond the skew, lifetime ≤ 24 h. Every failure is a
 * 401 with a stable code and a message saying which check failed; the token itself is never echoed
 * or logged.
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

/** One HS256 secret (base64url) with its kid; `kid: null` verifies only tokens without a kid. */
export interface HsKeyConfig {
  kid: string | null;
  secret: string;
}

export interface AuthOptions {
  /** HS256 secrets, current first (JWT_SECRET + JWT_SECRET_KID, then JWT_SECRETS_PREVIOUS). */
  secrets?: HsKeyConfig[];
  jwksUri?: string;
  /** Allowed `aud` values; undefined or null: not checked. */
  audience?: string[] | null;
  maxLifetimeSeconds?: number;
}

const CLOCK_SKEW = 60;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const FAST_HEADER_KEYS = new Set(['alg', 'typ', 'kid']);
const ASYMMETRIC_ALGS = new Set(['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

interface HsKey {
  kid: string | null;
  key: Uint8Array;
}

type RemoteJwks = ReturnType<typeof jose.createRemoteJWKSet>;

export class TokenVerifier {
  private readonly hsKeys: HsKey[];
  private readonly jwks: RemoteJwks | null;

  constructor(private readonly o: AuthOptions) {
    this.hsKeys = (o.secrets ?? []).map((k) => ({ kid: k.kid, key: Buffer.from(k.secret, 'base64url') }));
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
    const alg = typeof header.alg === 'string' ? header.alg : '';
    const kid = header.kid;
    if (kid !== undefined && typeof kid !== 'string') throw new ServiceError('AUTH_INVALID', 'Token header "kid" must be a string.');
    const verifyOptions: jose.JWTVerifyOptions = { clockTolerance: CLOCK_SKEW, ...(this.o.audience ? { audience: this.o.audience } : {}) };
    let payload: jose.JWTPayload;
    try {
      if (alg.startsWith('HS')) payload = await this.verifyHs(token, header, alg, kid, verifyOptions);
      else if (ASYMMETRIC_ALGS.has(alg)) payload = await this.verifyJwks(token, alg, kid, verifyOptions);
      else throw new ServiceError('AUTH_ALG_NOT_ALLOWED', `Token algorithm "${printable(alg)}" is not accepted; use HS256 (JWT_SECRET) or the algorithm of a JWKS key.`);
    } catch (e) {
      throw toAuthError(e, kid);
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new ServiceError('AUTH_INVALID', 'Token has no "sub" claim (the user id).');
    if (typeof payload.exp !== 'number') throw new ServiceError('AUTH_INVALID', 'Token has no "exp" claim; tokens must expire.');
    // Without iat the lifetime cap is meaningless: a token with a far exp becomes valid once exp is near.
    if (typeof payload.iat !== 'number') throw new ServiceError('AUTH_INVALID', 'Token has no "iat" claim (issued-at); issue tokens with iat = now.');
    const now = Math.floor(Date.now() / 1000);
    if (payload.iat > now + CLOCK_SKEW) {
      throw new ServiceError('AUTH_ISSUED_IN_FUTURE', `Token "iat" is ${payload.iat - now} s in the future (allowed skew: ${CLOCK_SKEW} s); fix the issuer's clock.`);
    }
    const maxLifetime = this.o.maxLifetimeSeconds ?? 86_400;
    if (payload.exp - payload.iat > maxLifetime + CLOCK_SKEW) {
      throw new ServiceError('AUTH_INVALID', `Token lifetime (exp - iat) exceeds ${maxLifetime} seconds; issue shorter-lived tokens.`);
    }
    return { userId: payload.sub, claims: payload as Record<string, unknown>, expiresAt: payload.exp };
  }

  private async verifyHs(
    token: string,
    header: jose.ProtectedHeaderParameters,
    alg: string,
    kid: string | undefined,
    verifyOptions: jose.JWTVerifyOptions,
  ): Promise<jose.JWTPayload> {
    const candidates = this.hsKeys.filter((k) => k.kid === (kid ?? null));
    if (candidates.length === 0) {
      if (this.hsKeys.length === 0) throw new ServiceError('AUTH_UNKNOWN_KEY', `Token uses ${printable(alg)} but no JWT_SECRET is configured.`);
      throw new ServiceError(
        'AUTH_UNKNOWN_KEY',
        kid === undefined
          ? 'Token has no "kid" and every configured secret has one; put the secret\'s kid (JWT_SECRET_KID) in the token header.'
          : `No configured secret has kid "${printable(kid)}" (JWT_SECRET_KID / JWT_SECRETS_PREVIOUS).`,
      );
    }
    if (alg !== 'HS256') {
      throw new ServiceError('AUTH_ALG_NOT_ALLOWED', `Token is signed with ${printable(alg)}, but the secret${kid ? ` "${printable(kid)}"` : ''} is pinned to HS256.`);
    }
    for (const k of candidates) {
      const fast = this.verifyHs256Fast(token, header, k.key);
      if (fast) return fast;
    }
    let last: unknown = null;
    for (const k of candidates) {
      try {
        return (await jose.jwtVerify(token, k.key, { ...verifyOptions, algorithms: ['HS256'] })).payload;
      } catch (e) {
        // Another secret of a rotation may have signed it; any other failure is about the claims.
        if (!(e instanceof jose.errors.JWSSignatureVerificationFailed)) throw e;
        last = e;
      }
    }
    throw last;
  }

  private async verifyJwks(token: string, alg: string, kid: string | undefined, verifyOptions: jose.JWTVerifyOptions): Promise<jose.JWTPayload> {
    if (kid !== undefined && this.hsKeys.some((k) => k.kid === kid)) {
      throw new ServiceError('AUTH_ALG_NOT_ALLOWED', `Token is signed with ${alg}, but key "${printable(kid)}" is an HS256 secret.`);
    }
    const jwks = this.jwks;
    if (!jwks) throw new ServiceError('AUTH_UNKNOWN_KEY', `Token uses ${alg} but no JWKS_URI is configured.`);
    if (kid === undefined) throw new ServiceError('AUTH_UNKNOWN_KEY', 'Token header has no "kid"; tokens verified with a JWKS must name their key.');
    const pinned: jose.JWTVerifyGetKey = async (h, t) => {
      const key = await jwks(h, t);
      // jose matched kid, key type and the JWK's own `alg` if it has one; a JWK without `alg` gets
      // its key type's default, so a key never verifies two algorithms.
      const jwk = jwks.jwks()?.keys.find((k) => k.kid === kid);
      if (jwk && jwk.alg === undefined && defaultAlgOf(jwk) !== alg) {
        throw new ServiceError('AUTH_ALG_NOT_ALLOWED', `Token is signed with ${alg}, but JWKS key "${printable(kid)}" (no "alg") is pinned to ${defaultAlgOf(jwk)}.`);
      }
      return key;
    };
    return (await jose.jwtVerify(token, pinned, { ...verifyOptions, algorithms: [...ASYMMETRIC_ALGS] })).payload;
  }

  /**
   * Synchronous HS256 check with node:crypto (WebCrypto through jose costs ~0.2 ms per token, which
   * dominates connection storms). It only ever accepts: a token it accepts passes every check
   * jose.jwtVerify makes with our options (plain header, signature, claims-set object, exp/nbf with
   * CLOCK_SKEW, numeric iat, audience). Anything else returns null and goes through jose, so
   * failures keep jose's exact errors (mapped by toAuthError).
   */
  private verifyHs256Fast(token: string, header: jose.ProtectedHeaderParameters, key: Uint8Array): jose.JWTPayload | null {
    for (const k of Object.keys(header)) if (!FAST_HEADER_KEYS.has(k)) return null;
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [h, p, sig] = parts as [string, string, string];
    if (!BASE64URL.test(h) || !BASE64URL.test(p) || !BASE64URL.test(sig)) return null;
    const expected = Buffer.from(createHmac('sha256', key).update(`${h}.${p}`).digest('base64url'));
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
    if (c.iat !== undefined && (typeof c.iat !== 'number' || c.iat > now + CLOCK_SKEW)) return null;
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
  if (e instanceof jose.errors.JWKSNoMatchingKey) return new ServiceError('AUTH_UNKNOWN_KEY', `No key with kid "${printable(kid ?? '')}" and this algorithm in the JWKS.`);
  if (e instanceof jose.errors.JWSSignatureVerificationFailed) return new ServiceError('AUTH_INVALID', 'Token signature does not verify with the configured key.');
  if (e instanceof jose.errors.JOSEAlgNotAllowed) return new ServiceError('AUTH_ALG_NOT_ALLOWED', 'Token algorithm is not allowed.');
  if (e instanceof jose.errors.JWKSTimeout || e instanceof jose.errors.JOSEError) return new ServiceError('AUTH_INVALID', `Token could not be verified (${e.code}).`);
  return new ServiceError('AUTH_INVALID', 'Token could not be verified.');
}

/** The one algorithm of a JWK that declares none: RS256 for RSA, ES256/384/512 by EC curve, EdDSA for OKP. */
function defaultAlgOf(jwk: jose.JWK): string {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC') return jwk.crv === 'P-384' ? 'ES384' : jwk.crv === 'P-521' ? 'ES512' : 'ES256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  return '(none)';
}

/** Header values echoed in messages: attacker-controlled, so short and printable only. */
function printable(v: string): string {
  const clean = v.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}

/** Mints a short-lived HS256 user token (dev mode / dashboard "connect as this user"). */
export async function mintDevToken(
  secret: string,
  userId: string,
  opts: { ttlSeconds?: number; audience?: string; claims?: Record<string, unknown>; kid?: string } = {},
): Promise<{ token: string; expiresAt: number }> {
  const ttl = Math.min(opts.ttlSeconds ?? 12 * 3600, 86_400);
  const now = Math.floor(Date.now() / 1000);
  let jwt = new jose.SignJWT({ ...opts.claims }).setProtectedHeader({ alg: 'HS256', ...(opts.kid ? { kid: opts.kid } : {}) }).setSubject(userId).setIssuedAt(now).setExpirationTime(now + ttl);
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
