import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../src/auth.ts';

const secret = randomBytes(32).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

async function sign(
  opts: { alg?: string; kid?: string; key?: string | jose.CryptoKey; iat?: number; exp?: number; sub?: string; aud?: string } = {},
): Promise<string> {
  const iat = opts.iat ?? now();
  let jwt = new jose.SignJWT({})
    .setProtectedHeader({ alg: opts.alg ?? 'HS256', ...(opts.kid !== undefined ? { kid: opts.kid } : {}) })
    .setSubject(opts.sub ?? 'u1')
    .setIssuedAt(iat)
    .setExpirationTime(opts.exp ?? now() + 600);
  if (opts.aud) jwt = jwt.setAudience(opts.aud);
  const key = opts.key ?? secret;
  return jwt.sign(typeof key === 'string' ? Buffer.from(key, 'base64url') : key);
}

async function rejection(v: TokenVerifier, token: string): Promise<{ code: string; status: number; message: string }> {
  try {
    await v.verify(token);
  } catch (e) {
    const err = e as { code: string; status: number; message: string };
    return { code: err.code, status: err.status, message: err.message };
  }
  throw new Error('token was accepted');
}

describe('client JWT verification', () => {
  const verifier = new TokenVerifier({ secrets: [{ kid: null, secret }] });

  it('accepts an HS256 token signed with the secret', async () => {
    expect((await verifier.verify(await sign())).userId).toBe('u1');
  });

  it('rejects a token signed HS512 with the HS256 secret', async () => {
    const r = await rejection(verifier, await sign({ alg: 'HS512' }));
    expect(r).toMatchObject({ status: 401, code: 'SYNC_AUTH_ALG_NOT_ALLOWED' });
  });

  it('rejects a token whose kid names no configured key', async () => {
    const r = await rejection(verifier, await sign({ kid: 'someone-else' }));
    expect(r).toMatchObject({ status: 401, code: 'SYNC_AUTH_UNKNOWN_KEY' });
  });

  it('rejects a token issued in the future beyond the clock skew', async () => {
    const r = await rejection(verifier, await sign({ iat: now() + 3600, exp: now() + 7200 }));
    expect(r).toMatchObject({ status: 401, code: 'SYNC_AUTH_ISSUED_IN_FUTURE' });
  });

  it('rejects a token without iat: its lifetime cannot be bounded (a 1-year token would become valid in its last day)', async () => {
    const noIat = await new jose.SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u1').setExpirationTime(now() + 600).sign(Buffer.from(secret, 'base64url'));
    const r = await rejection(verifier, noIat);
    expect(r).toMatchObject({ status: 401, code: 'SYNC_AUTH_INVALID' });
    expect(r.message).toContain('"iat"');
  });

  it('rejects alg "none" and unknown algorithms with the algorithm code', async () => {
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'u1', exp: now() + 60 })).toString('base64url')}.`;
    expect(await rejection(verifier, none)).toMatchObject({ status: 401, code: 'SYNC_AUTH_ALG_NOT_ALLOWED' });
  });

  it('still allows an iat within the clock skew', async () => {
    expect((await verifier.verify(await sign({ iat: now() + 30 }))).userId).toBe('u1');
  });
});

describe('secret rotation', () => {
  const current = randomBytes(32).toString('base64url');
  const previous = randomBytes(32).toString('base64url');
  const older = randomBytes(32).toString('base64url');
  const verifier = new TokenVerifier({
    secrets: [
      { kid: 'k2026', secret: current },
      { kid: 'k2025', secret: previous },
      { kid: null, secret: older },
    ],
  });

  it('verifies each token with the key its kid names, old and new side by side', async () => {
    expect((await verifier.verify(await sign({ kid: 'k2026', key: current }))).userId).toBe('u1');
    expect((await verifier.verify(await sign({ kid: 'k2025', key: previous }))).userId).toBe('u1');
    expect((await verifier.verify(await sign({ key: older }))).userId).toBe('u1');
  });

  it('does not let a kid borrow another key', async () => {
    expect(await rejection(verifier, await sign({ kid: 'k2026', key: previous }))).toMatchObject({ code: 'SYNC_AUTH_INVALID' });
    expect(await rejection(verifier, await sign({ key: current }))).toMatchObject({ code: 'SYNC_AUTH_INVALID' });
    expect(await rejection(verifier, await sign({ kid: 'k2024', key: current }))).toMatchObject({ code: 'SYNC_AUTH_UNKNOWN_KEY' });
  });

  it('pins every secret to HS256', async () => {
    expect(await rejection(verifier, await sign({ kid: 'k2025', key: previous, alg: 'HS384' }))).toMatchObject({ code: 'SYNC_AUTH_ALG_NOT_ALLOWED' });
  });

  it('never echoes the token or a secret in the message', async () => {
    const token = await sign({ kid: 'k2026', key: previous });
    const r = await rejection(verifier, token);
    for (const s of [token, current, previous, older]) expect(r.message).not.toContain(s);
  });
});

describe('JWKS keys', () => {
  let server: Server;
  let uri = '';
  let rsa: jose.GenerateKeyPairResult;
  let ec: jose.GenerateKeyPairResult;

  beforeAll(async () => {
    rsa = await jose.generateKeyPair('RS256', { extractable: true });
    ec = await jose.generateKeyPair('ES256', { extractable: true });
    const keys = [
      { ...(await jose.exportJWK(rsa.publicKey)), kid: 'rsa-no-alg', alg: undefined },
      { ...(await jose.exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES256' },
    ];
    server = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    uri = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/jwks.json`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('accepts a token signed with the algorithm of its key', async () => {
    const v = new TokenVerifier({ jwksUri: uri, audience: ['app'] });
    expect((await v.verify(await sign({ alg: 'RS256', kid: 'rsa-no-alg', key: rsa.privateKey, aud: 'app' }))).userId).toBe('u1');
    expect((await v.verify(await sign({ alg: 'ES256', kid: 'ec', key: ec.privateKey, aud: 'app' }))).userId).toBe('u1');
  });

  it('pins a JWK without "alg" to its key type default', async () => {
    const v = new TokenVerifier({ jwksUri: uri, audience: ['app'] });
    // Same RSA key material, used for RS512.
    const rs512 = (await jose.importJWK({ ...(await jose.exportJWK(rsa.privateKey)), alg: undefined }, 'RS512')) as jose.CryptoKey;
    const r = await rejection(v, await sign({ alg: 'RS512', kid: 'rsa-no-alg', key: rs512, aud: 'app' }));
    expect(r).toMatchObject({ status: 401, code: 'SYNC_AUTH_ALG_NOT_ALLOWED' });
  });

  it('rejects a kid the JWKS does not have, and a token for another audience', async () => {
    const v = new TokenVerifier({ jwksUri: uri, audience: ['app'] });
    expect(await rejection(v, await sign({ alg: 'RS256', kid: 'gone', key: rsa.privateKey, aud: 'app' }))).toMatchObject({ code: 'SYNC_AUTH_UNKNOWN_KEY' });
    expect(await rejection(v, await sign({ alg: 'RS256', kid: 'rsa-no-alg', key: rsa.privateKey, aud: 'other-app' }))).toMatchObject({ code: 'SYNC_AUTH_INVALID' });
  });

  it('does not verify an HS token against a JWKS kid', async () => {
    const v = new TokenVerifier({ jwksUri: uri, audience: ['app'], secrets: [{ kid: null, secret }] });
    expect(await rejection(v, await sign({ kid: 'rsa-no-alg', aud: 'app' }))).toMatchObject({ code: 'SYNC_AUTH_UNKNOWN_KEY' });
  });
});
