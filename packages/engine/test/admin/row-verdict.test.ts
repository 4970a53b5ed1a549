import { describe, expect, it } from 'vitest';
import { streamVerdict, type StreamVerdictInput } from '../../src/admin/row-verdict.ts';

const base: StreamVerdictInput = {
  name: 'list_todos',
  kind: 'stream',
  autoSubscribe: false,
  queries: null,
  rowExists: true,
  tableName: 'todos',
  includeDefaults: true,
  rowBuckets: [{ bucket: '3#list_todos|0["l1"]', definition: 'list_todos', table: 'todos', id: 't1', parameters: ['l1'] }],
  userBuckets: [],
  subscriptions: [],
  defaultErrors: [],
  lookups: [],
  rowFeeds: [],
};
const sub = (index: number, buckets: string[], errors: string[] = []) => ({ index, stream: 'list_todos', parameters: {}, overridePriority: null, known: true, buckets, priority: buckets.length ? 3 : null, errors });

describe('why (not) this row, per stream', () => {
  it('is in-bucket when a subscription yields the row bucket, naming the reason and priority', () => {
    const v = streamVerdict({ ...base, subscriptions: [sub(0, ['3#list_todos|0["l1"]'])], userBuckets: [{ bucket: '3#list_todos|0["l1"]', parameters: ['l1'], priority: 0, reasons: ['sub 0'] }] });
    expect(v.verdict).toBe('in-bucket');
    expect(v.message).toContain('sub 0, priority 0');
  });

  it('is not-subscribed for a stream without auto_subscribe and no subscription', () => {
    expect(streamVerdict(base).verdict).toBe('not-subscribed');
    expect(streamVerdict(base).message).toContain('auto_subscribe off');
    // auto_subscribe streams are subscribed implicitly unless include_defaults is false.
    expect(streamVerdict({ ...base, autoSubscribe: true }).verdict).toBe('user-has-none');
    expect(streamVerdict({ ...base, autoSubscribe: true, includeDefaults: false }).verdict).toBe('not-subscribed');
  });

  it('reports subscription errors when they are why the user has no bucket', () => {
    const v = streamVerdict({ ...base, subscriptions: [sub(1, [], ['Error evaluating bucket ids: bad JSON'])] });
    expect(v.verdict).toBe('subscription-error');
    expect(v.subscriptionErrors).toEqual(['sub 1: Error evaluating bucket ids: bad JSON']);
  });

  it('compares parameters when the user has other buckets of the stream', () => {
    const v = streamVerdict({ ...base, subscriptions: [sub(0, ['3#list_todos|0["l2"]'])], userBuckets: [{ bucket: '3#list_todos|0["l2"]', parameters: ['l2'], priority: 3, reasons: ['sub 0'] }] });
    expect(v.verdict).toBe('different-parameters');
    expect(v.message).toContain('["l1"]');
    expect(v.message).toContain('["l2"]');
  });

  it('explains a JOIN-side row: no bucket of its own, but it feeds a lookup the user read', () => {
    const v = streamVerdict({ ...base, rowBuckets: [], tableName: 'lists', rowFeeds: [{ lookup: 'list_todos|0|["u1"]', stream: 'list_todos', bucketParameters: [{ id: 'l1' }], readByUser: true }] });
    expect(v.verdict).toBe('no-bucket-for-row');
    expect(v.message).toContain('feeds the parameter lookup list_todos|0|["u1"]');
    const unread = streamVerdict({ ...base, rowBuckets: [], rowFeeds: [{ lookup: 'k', stream: 'list_todos', bucketParameters: [], readByUser: false }] });
    expect(unread.message).not.toContain('feeds');
  });

  it('names the joined source rows behind the user buckets', () => {
    const v = streamVerdict({
      ...base,
      subscriptions: [sub(0, ['3#list_todos|0["l1"]'])],
      userBuckets: [{ bucket: '3#list_todos|0["l1"]', parameters: ['l1'], priority: 3, reasons: ['sub 0'] }],
      lookups: [{ key: 'k', definition: 'list_todos', queryId: '0', values: ['u1'], results: [{ 0: 'l1' }], sources: [{ schema: 'public', table: 'lists', id: 'l1' }] }],
    });
    expect(v.message).toContain('parameter lookups over lists l1');
  });

  it('says the row is missing from the source', () => {
    expect(streamVerdict({ ...base, rowExists: false, rowBuckets: [] }).message).toContain('does not exist');
  });
});
