import { describe, expect, it } from 'vitest';
import { opaqueSubkey } from '../../src/replication/opaque-subkey.ts';

const salt = 'a'.repeat(64);

describe('opaque subkeys', () => {
  it('is a UUID-shaped hash that does not contain the key', () => {
    const s = opaqueSubkey(salt, 3, '["alice@example.com"]');
    expect(s).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(s).not.toContain('alice');
  });

  it('is stable for the same row and differs between rows, tables and salts', () => {
    const s = opaqueSubkey(salt, 3, '["1"]');
    expect(opaqueSubkey(salt, 3, '["1"]')).toBe(s);
    expect(opaqueSubkey(salt, 3, '["2"]')).not.toBe(s);
    expect(opaqueSubkey(salt, 4, '["1"]')).not.toBe(s);
    expect(opaqueSubkey('b'.repeat(64), 3, '["1"]')).not.toBe(s);
    // No ambiguity between where the table id ends and the key begins.
    expect(opaqueSubkey(salt, 31, '["1"]')).not.toBe(opaqueSubkey(salt, 3, '1["1"]'));
  });
});
