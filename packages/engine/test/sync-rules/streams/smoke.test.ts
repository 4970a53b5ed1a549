import { describe, expect, it } from 'vitest';
import { compileSyncRules } from '../../../src/sync-rules/compile.ts';

describe('smoke', () => {
  it('works', async () => {
    const { rules, issues } = compileSyncRules(
      `config: { edition: 3 }
streams:
  s:
    query: SELECT * FROM comments WHERE issue_id IN (SELECT id FROM issues WHERE owner_id = auth.user_id())
`,
      { versionId: 1 },
    );
    console.log(JSON.stringify(issues));
    const t = { schema: 'public', name: 'issues' };
    console.log(JSON.stringify(rules!.evaluateParameterRow(t, { id: 'issue_id', owner_id: 'user1' })));
    console.log(JSON.stringify(rules!.evaluateRow({ schema: 'public', name: 'comments' }, { id: 'c', issue_id: 'i1' })));
    const q = rules!.createQuerier({ userId: 'user1', jwtClaims: { sub: 'user1' }, clientParameters: {} });
    console.log(JSON.stringify(q.lookups), JSON.stringify(q.streams));
    const b = await q.resolveBuckets(async (ls) => ls.map(() => [{ '0': 'i1' }]));
    console.log(JSON.stringify(b));
    expect(1).toBe(1);
  });
});
