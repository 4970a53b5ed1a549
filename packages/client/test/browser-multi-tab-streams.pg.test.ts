/**
 * Sync Streams across tabs in headless Chromium against the real sync API and Postgres: only the
 * leader tab syncs, so a stream subscribed in a follower tab must reach the leader's request at
 * once (not at its next reconnect), keep syncing while the follower holds it — even past its TTL,
 * which the leader extends as for its own handles — survive a leader handover, and end once the
 * follower releases it — or closes — and the TTL runs out.
 */
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useBrowserSyncFixture } from './browser/fixture.ts';
import { call, openTab } from './browser/multi-tab-tabs.ts';
import { waitFor } from './scripted-server.ts';
import { CHROMIUM } from '@syncline/test-utils';

const RULES = `
config:
  edition: 3
streams:
  mine:
    auto_subscribe: true
    query: SELECT * FROM todos WHERE owner_id = auth.user_id()
  by_owner:
    query: SELECT * FROM todos WHERE owner_id = subscription.parameter('owner')
`;
/** Subscription TTL in seconds: short, so the test can outlast it. */
const TTL = 2;
/** Bound for a change to reach a tab (the server and browser share 2 cores with other tests). */
const REACH_MS = 20_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!existsSync(CHROMIUM))('multi-tab: stream subscriptions made in any tab', () => {
  const fx = useBrowserSyncFixture(
    'syncline-multi-tab-streams-',
    `CREATE TABLE todos (id text PRIMARY KEY, owner_id text, description text);
     INSERT INTO todos VALUES ('tab-mine-1', 'me', 'mine'), ('tab-shared-1', 'shared', 'shared'), ('tab-other-1', 'other', 'other');`,
    RULES,
  );

  /** Waits until the tab's todo ids are exactly `ids` (sorted). */
  async function expectIds(page: Page, ids: string[], what: string): Promise<void> {
    const want = JSON.stringify([...ids].sort());
    let got: string[] = [];
    await waitFor(
      async () => {
        got = (await call<string[]>(page, 'rows')).map((r) => r.slice(0, r.indexOf('=')));
        return JSON.stringify(got) === want;
      },
      REACH_MS,
      what,
    ).catch(async (e: unknown) => {
      throw new Error(`${String(e)}: have ${JSON.stringify(got)}, want ${want}; log ${JSON.stringify(await call(page, 'log'))}`);
    });
  }

  it('syncs a follower tab’s subscription at once, keeps it while held (past its TTL, across a handover) and ends it after release or close', async () => {
    await fx.sync.sql(`DELETE FROM todos WHERE id NOT IN ('tab-mine-1', 'tab-shared-1', 'tab-other-1')`); // a retry starts over
    const context = await fx.browser.newContext();
    const [a, b, c] = [await openTab(context, fx.server.url), await openTab(context, fx.server.url), await openTab(context, fx.server.url)];
    expect(await call(a, 'open')).toBe('leader');
    expect(await call(b, 'open')).toBe('follower');
    expect(await call(c, 'open')).toBe('follower');
    const token = fx.sync.token('me');
    for (const p of [a, b, c]) await call(p, 'connect', fx.sync.url, token);
    await expectIds(b, ['tab-mine-1'], 'the auto-subscribed stream in the follower');

    // A follower subscribes: the leader's connection asks for it without waiting for a reconnect.
    await call(b, 'subscribe', 'by_owner', { owner: 'shared' }, TTL);
    await expectIds(b, ['tab-mine-1', 'tab-shared-1'], "the follower's subscription synced");
    await call(b, 'waitForStream', 'by_owner', { owner: 'shared' }, REACH_MS);
    await expectIds(a, ['tab-mine-1', 'tab-shared-1'], 'the same rows in the leader');

    // Held past its TTL: the leader extends it like its own handles, so changes keep arriving.
    await sleep(TTL * 1000 + 1500);
    await fx.sync.sql(`INSERT INTO todos VALUES ('tab-shared-2', 'shared', 'after the ttl')`);
    await expectIds(b, ['tab-mine-1', 'tab-shared-1', 'tab-shared-2'], 'a change to a held subscription past its TTL');

    // A second follower subscribes, then the leader closes: B leads, and C's subscription (its
    // handle still held, TTL passed) is carried over to the new leader.
    await call(c, 'subscribe', 'by_owner', { owner: 'other' }, TTL);
    await expectIds(c, ['tab-mine-1', 'tab-other-1', 'tab-shared-1', 'tab-shared-2'], "the second follower's subscription synced");
    await a.close();
    await waitFor(async () => (await call<{ role: string; connected: boolean }>(b, 'status')).role === 'leader', REACH_MS, 'tab B leads');
    await sleep(TTL * 1000 + 1500);
    await fx.sync.sql(`INSERT INTO todos VALUES ('tab-other-2', 'other', 'after the handover'), ('tab-shared-3', 'shared', 'after the handover')`);
    const all = ['tab-mine-1', 'tab-other-1', 'tab-other-2', 'tab-shared-1', 'tab-shared-2', 'tab-shared-3'];
    await expectIds(c, all, 'both subscriptions after the handover, past their TTL');
    await expectIds(b, all, 'the new leader');

    // Released in the follower: its rows go once the TTL has run out; B's subscription stays.
    await call(c, 'unsubscribe', 'by_owner', { owner: 'other' });
    await expectIds(c, ['tab-mine-1', 'tab-shared-1', 'tab-shared-2', 'tab-shared-3'], 'the released subscription ended after its TTL');

    // A follower closed while holding a subscription no longer holds it: it ends after its TTL.
    const d = await openTab(context, fx.server.url);
    expect(await call(d, 'open')).toBe('follower');
    await call(d, 'connect', fx.sync.url, token);
    await fx.sync.sql(`INSERT INTO todos VALUES ('tab-closed-1', 'closed', 'held by a closed tab')`);
    await call(d, 'subscribe', 'by_owner', { owner: 'closed' }, TTL);
    const withClosed = ['tab-closed-1', 'tab-mine-1', 'tab-shared-1', 'tab-shared-2', 'tab-shared-3'];
    await expectIds(b, withClosed, 'the subscription of tab D');
    await d.close();
    await expectIds(b, ['tab-mine-1', 'tab-shared-1', 'tab-shared-2', 'tab-shared-3'], 'the subscription of the closed tab D ended after its TTL');
    for (const p of [b, c]) {
      const s = await call<{ errors: string[]; downloadError?: string }>(p, 'status');
      expect(s.errors).toEqual([]);
      expect(s.downloadError).toBeUndefined();
    }
    for (const p of [c, b]) await call(p, 'close');
    await context.close();
  }, 150_000);
});
