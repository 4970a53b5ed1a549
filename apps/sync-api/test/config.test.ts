import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';

const base = {
  SOURCE_DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/app',
  ADMIN_TOKEN: 'a'.repeat(32),
  JWT_SECRET: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0',
};

describe('sync-api config', () => {
  it('applies defaults and derives the storage database from the source URL', () => {
    const c = loadConfig(base);
    expect(c.SYNC_API_PORT).toBe(8080);
    expect(c.SYNC_RUNNER).toBe('unified');
    expect(c.STORAGE_DATABASE_URL).toBe('postgres://u:p@127.0.0.1:5432/syncline_storage');
  });

  it('names the missing variable', () => {
    expect(() => loadConfig({ ...base, SOURCE_DATABASE_URL: undefined })).toThrow(/SOURCE_DATABASE_URL/);
  });

  it('names a bad value and says what is expected', () => {
    expect(() => loadConfig({ ...base, SYNC_API_PORT: 'eighty' })).toThrow(/SYNC_API_PORT/);
    expect(() => loadConfig({ ...base, SYNC_RUNNER: 'both' })).toThrow(/SYNC_RUNNER/);
    expect(() => loadConfig({ ...base, ADMIN_TOKEN: 'short' })).toThrow(/ADMIN_TOKEN: must be at least 16/);
  });

  it('requires a way to verify client tokens', () => {
    expect(() => loadConfig({ ...base, JWT_SECRET: undefined })).toThrow(/JWT_SECRET.*JWKS_URI/);
  });

  it('requires JWT_AUDIENCE when JWKS_URI is set, and accepts `*` to disable the check explicitly', () => {
    const jwks = { ...base, JWT_SECRET: undefined, JWKS_URI: 'https://idp.example.com/.well-known/jwks.json' };
    expect(() => loadConfig(jwks)).toThrow(/JWT_AUDIENCE: required when JWKS_URI is set/);
    expect(loadConfig({ ...jwks, JWT_AUDIENCE: 'my-app' }).JWT_AUDIENCE).toBe('my-app');
    expect(loadConfig({ ...jwks, JWT_AUDIENCE: '*' }).JWT_AUDIENCE).toBe('*');
  });

  it('reads previous secrets with their kids for a rotation, and never echoes a bad one', async () => {
    const { jwtSecretsOf } = await import('../src/config.ts');
    const old = 'b2xkLW9sZC1vbGQtb2xkLW9sZC1vbGQ';
    const c = loadConfig({ ...base, JWT_SECRET_KID: 'k2', JWT_SECRETS_PREVIOUS: `k1:${old}, ${old}x` });
    expect(jwtSecretsOf(c)).toEqual([
      { kid: 'k2', secret: base.JWT_SECRET },
      { kid: 'k1', secret: old },
      { kid: null, secret: `${old}x` },
    ]);
    expect(() => loadConfig({ ...base, JWT_SECRET_KID: 'k1', JWT_SECRETS_PREVIOUS: `k1:${old}` })).toThrow(/JWT_SECRETS_PREVIOUS: every secret needs its own kid/);
    let message = '';
    try {
      loadConfig({ ...base, JWT_SECRETS_PREVIOUS: 'k1:short-secret!' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/JWT_SECRETS_PREVIOUS: entry 1 must be/);
    expect(message).not.toContain('short-secret');
  });

  it('reads a YAML config file and lets env vars override it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, 'syncline.yaml');
    writeFileSync(file, 'sync_api_port: 9999\nsync_runner: api\n');
    const c = loadConfig({ ...base, SYNCLINE_CONFIG: file, SYNC_RUNNER: 'replicator' });
    expect(c.SYNC_API_PORT).toBe(9999);
    expect(c.SYNC_RUNNER).toBe('replicator');
  });
});
