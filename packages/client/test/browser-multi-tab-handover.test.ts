/**
 * Multi-tab handover with a follower's transaction in flight, in headless Chromium: the leader
 * tab closes (a) after committing a follower's transaction but before its answer got out, or
 * (b) before the follower's COMMIT reached it. The follower must end with the write applied
 * exactly once — (a) succeeds without re-running, (b) re-runs a plain `execute` on the new
 * leader (itself) — and a `writeTransaction` callback in case (b) fails with the retryable
 * `TAB_LEADER_CHANGED` instead of being applied or re-run behind the app's back. The faults are
 * injected by the test page, which drops one BroadcastChannel message.
 */
import { existsSync } from 'node:fs';
import { type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useBrowserFixture } from './browser/fixture.ts';
import { call, openTab } from './browser/multi-tab-tabs.ts';
import { waitFor } from './scripted-server.ts';
import { CHROMIUM } from '@syncline/test-utils';


describe.skipIf(!existsSync(CHROMIUM))('multi-tab handover with a follower write in flight', () => {
  const fx = useBrowserFixture('syncline-multi-tab-handover-');

  /** A leader and a follower on a fresh database (a new context has its own OPFS). */
  async function twoTabs(): Promise<{ leader: Page; follower: Page; close: () => Promise<void> }> {
    const context = await fx.browser.newContext();
    const pages: Page[] = [];
    for (const expected of ['leader', 'follower']) {
      const page = await openTab(context, fx.server.url);
      expect(await call(page, 'open')).toBe(expected);
      pages.push(page);
    }
    return { leader: pages[0]!, follower: pages[1]!, close: () => context.close() };
  }

  async function rows(page: Page, id: string): Promise<{ rows: number; crud: number }> {
    return { rows: (await call<string[]>(page, 'rows')).filter((r) => r.startsWith(`${id}=`)).length, crud: await call<number>(page, 'crudFor', id) };
  }

  it('a COMMIT the leader applied but could not answer counts once, without a re-run', async () => {
    const { leader, follower, close } = await twoTabs();
    await call(leader, 'arm', 'dropCommitReply');
    await call(follower, 'startInsert', 'w-a', 'execute');
    await waitFor(async () => (await call<number>(leader, 'dropped')) === 1, 10_000, 'the leader committed and dropped its answer');
    await leader.close();
    expect(await call(follower, 'settled')).toBe('ok');
    expect(await call(follower, 'role')).toBe('leader');
    expect(await rows(follower, 'w-a')).toEqual({ rows: 1, crud: 1 });
    await call(follower, 'close');
    await close();
  }, 60_000);

  it('a COMMIT that never reached the leader is rolled back and execute() runs again on the new leader', async () => {
    const { leader, follower, close } = await twoTabs();
    await call(follower, 'arm', 'dropCommitCall');
    await call(follower, 'startInsert', 'w-b', 'execute');
    await waitFor(async () => (await call<number>(follower, 'dropped')) === 1, 10_000, 'the follower lost its COMMIT');
    await leader.close();
    expect(await call(follower, 'settled')).toBe('ok');
    expect(await rows(follower, 'w-b')).toEqual({ rows: 1, crud: 1 });
    await call(follower, 'close');
    await close();
  }, 60_000);

  it('a writeTransaction whose COMMIT never reached the leader fails with TAB_LEADER_CHANGED and is not applied', async () => {
    const { leader, follower, close } = await twoTabs();
    await call(follower, 'arm', 'dropCommitCall');
    await call(follower, 'startInsert', 'w-c', 'transaction');
    await waitFor(async () => (await call<number>(follower, 'dropped')) === 1, 10_000, 'the follower lost its COMMIT');
    await leader.close();
    expect(await call(follower, 'settled')).toBe('error TAB_LEADER_CHANGED');
    expect(await rows(follower, 'w-c')).toEqual({ rows: 0, crud: 0 });
    await call(follower, 'close');
    await close();
  }, 60_000);
});
