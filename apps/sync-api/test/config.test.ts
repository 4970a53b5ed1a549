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

  it('reads a YAML config file and lets env vars override it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, 'syncline.yaml');
    writeFileSync(file, 'sync_api_port: 9999\nsync_runner: api\n');
    const c = loadConfig({ ...base, SYNCLINE_CONFIG: file, SYNC_RUNNER: 'replicator' });
    expect(c.SYNC_API_PORT).toBe(9999);
    expect(c.SYNC_RUNNER).toBe('replicator');
  });
});
