import { describe, expect, it } from 'vitest';
import { applyCheckpointDiff, parseSyncLineText, type Checkpoint } from '../src/sync/sync-lines.ts';

describe('sync line parsing', () => {
  it('parses a checkpoint with signed checksums as u32 and default priority 3', () => {
    const line = parseSyncLineText(
      '{"checkpoint":{"last_op_id":"2","write_checkpoint":"7","buckets":[{"bucket":"b","checksum":-93886621,"count":2},{"bucket":"c","checksum":1,"priority":0}]}}',
    );
    expect(line.type).toBe('checkpoint');
    if (line.type !== 'checkpoint') return;
    expect(line.checkpoint.lastOpId).toBe(2n);
    expect(line.checkpoint.writeCheckpoint).toBe(7n);
    expect(line.checkpoint.buckets.get('b')).toEqual({ bucket: 'b', checksum: 4201080675, count: 2, priority: 3, subscriptions: [] });
    expect(line.checkpoint.buckets.get('c')?.priority).toBe(0);
  });

  it('accepts checksums as whole floats and above 2^31', () => {
    const line = parseSyncLineText('{"data":{"bucket":"b","data":[{"op_id":"1","op":"MOVE","checksum":-1.0},{"op_id":"2","op":"MOVE","checksum":3573495687}]}}');
    expect(line.type === 'data' && line.ops.map((o) => o.checksum)).toEqual([4294967295, 3573495687]);
  });

  it('keeps op ids beyond 2^53 exact', () => {
    const line = parseSyncLineText('{"checkpoint_complete":{"last_op_id":"9223372036854775807"}}');
    expect(line).toEqual({ type: 'checkpoint_complete', lastOpId: 9223372036854775807n });
  });

  it('re-parses losslessly when an unquoted integer is beyond 2^53 (op ids, checksums), not otherwise', () => {
    const line = parseSyncLineText('{"checkpoint":{"last_op_id":9223372036854775807,"write_checkpoint":9007199254740993,"buckets":[{"bucket":"b","checksum":4294967297}]}}');
    expect(line.type === 'checkpoint' && line.checkpoint.lastOpId).toBe(9223372036854775807n);
    expect(line.type === 'checkpoint' && line.checkpoint.writeCheckpoint).toBe(9007199254740993n);
    expect(line.type === 'checkpoint' && line.checkpoint.buckets.get('b')?.checksum).toBe(1);
    const negative = parseSyncLineText('{"data":{"bucket":"b","data":[{"op_id":-9007199254740993,"op":"MOVE","checksum":1}]}}');
    expect(negative.type === 'data' && negative.ops[0]?.opId).toBe(-9007199254740993n);
    // A checksum in a later op of a data line: 2^64 + 1 wraps to 1 only if read exactly.
    const later = parseSyncLineText(
      '{"data":{"bucket":"b","data":[{"op_id":"1","op":"PUT","object_type":"t","object_id":"x","data":"{}","checksum":2},{"op_id":"2","op":"PUT","object_type":"t","object_id":"y","data":"{}","checksum":18446744073709551617}]}}',
    );
    expect(later.type === 'data' && later.ops.map((o) => o.checksum)).toEqual([2, 1]);
    const safe = parseSyncLineText('{"data":{"bucket":"1234567890123456789","data":[{"op_id":9007199254740991,"op":"MOVE","checksum":1}]}}');
    expect(safe.type === 'data' && [safe.bucket, safe.ops[0]?.opId]).toEqual(['1234567890123456789', 9007199254740991n]);
  });

  it('keeps raw row data as the exact text and re-serialises legacy object data losslessly', () => {
    const raw = parseSyncLineText(
      '{"data":{"bucket":"b","data":[{"op_id":"1","op":"PUT","object_type":"t","object_id":"a","subkey":"s","data":"{\\"n\\":12345678901234567890}","checksum":1}]}}',
    );
    expect(raw.type === 'data' && raw.ops[0]?.data).toBe('{"n":12345678901234567890}');
    const legacy = parseSyncLineText(
      '{"data":{"bucket":"b","data":[{"op_id":"1","op":"PUT","object_type":"t","object_id":"a","data":{"n":12345678901234567890,"i":3,"r":1.5},"checksum":1}]}}',
    );
    expect(legacy.type === 'data' && legacy.ops[0]?.data).toBe('{"n":12345678901234567890,"i":3,"r":1.5}');
  });

  it('parses partial completes, token expiry and passes unknown lines through', () => {
    expect(parseSyncLineText('{"partial_checkpoint_complete":{"last_op_id":"3","priority":1}}')).toEqual({ type: 'partial_checkpoint_complete', lastOpId: 3n, priority: 1 });
    expect(parseSyncLineText('{"token_expires_in":25}')).toEqual({ type: 'token_expires_in', seconds: 25 });
    expect(parseSyncLineText('{"something_new":{}}')).toEqual({ type: 'unknown', key: 'something_new' });
  });

  it('parses checkpoint.streams and per-bucket subscription reasons, skipping malformed reasons', () => {
    const line = parseSyncLineText(
      JSON.stringify({
        checkpoint: {
          last_op_id: '2',
          buckets: [{ bucket: '1#todos|0["a"]', checksum: 1, count: 1, priority: 0, subscriptions: [{ sub: 0 }, { default: 1 }, { sub: -1 }, 'x', { other: 2 }] }],
          streams: [
            { name: 'todos', is_default: false, errors: [{ subscription: 1, message: 'bad params' }] },
            { name: 'lists', is_default: true, errors: [{ subscription: 'default', message: 'too many' }] },
          ],
        },
      }),
    );
    if (line.type !== 'checkpoint') throw new Error('expected a checkpoint');
    expect(line.checkpoint.buckets.get('1#todos|0["a"]')?.subscriptions).toEqual([{ sub: 0 }, { default: 1 }]);
    expect(line.streams).toEqual([
      { name: 'todos', isDefault: false, errors: [{ subscription: 1, message: 'bad params' }] },
      { name: 'lists', isDefault: true, errors: [{ subscription: 'default', message: 'too many' }] },
    ]);
    const old = parseSyncLineText('{"checkpoint":{"last_op_id":"2","buckets":[]}}');
    expect(old.type === 'checkpoint' && old.streams).toBeUndefined();
    expect(() => parseSyncLineText('{"checkpoint":{"last_op_id":"2","buckets":[],"streams":{}}}')).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });

  it('rejects malformed lines with PROTOCOL_ERROR', () => {
    for (const text of ['nope', '[]', '{"checkpoint":{"last_op_id":"x","buckets":[]}}', '{"data":{"bucket":"b","data":[{"op_id":"1","op":"BAD","checksum":1}]}}']) {
      expect(() => parseSyncLineText(text)).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
    }
  });

  it('applies a diff: removed and updated buckets, and a missing write_checkpoint means none', () => {
    const base: Checkpoint = {
      lastOpId: 1n,
      writeCheckpoint: 5n,
      buckets: new Map([
        ['a', { bucket: 'a', checksum: 1, count: 1, priority: 3, subscriptions: [] }],
        ['b', { bucket: 'b', checksum: 2, count: 1, priority: 3, subscriptions: [] }],
      ]),
    };
    const diff = parseSyncLineText('{"checkpoint_diff":{"last_op_id":"4","updated_buckets":[{"bucket":"c","checksum":3}],"removed_buckets":["a"]}}');
    if (diff.type !== 'checkpoint_diff') throw new Error('expected a diff');
    const next = applyCheckpointDiff(base, diff);
    expect([...next.buckets.keys()].sort()).toEqual(['b', 'c']);
    expect(next.lastOpId).toBe(4n);
    expect(next.writeCheckpoint).toBeNull();
  });
});
