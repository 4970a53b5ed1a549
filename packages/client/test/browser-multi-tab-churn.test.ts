/**
 * Handover under write load, in headless Chromium (OPFS `opfs-sahpool`): the leader tab runs large
 * write transactions back to back and is closed — or crashed (CDP `Page.crash`) — at a random
 * moment, so most handovers happen in the middle of a commit. The follower takes over; its
 * database must pass `PRAGMA quick_check` and hold every transaction the old leader reported
 * committed, each with exactly one upload-queue entry. Then a new tab joins as the follower and
 * the new leader churns in turn. `MULTI_TAB_HANDOVERS` sets the number of handovers (default 6).
 *
 * Before the fix (see `sahpool-recovery.ts`), about one handover in three ended in
 * `SQLITE_CORRUPT: database disk image is malformed`: the old leader's torn commit was never
 * rolled back from its journal.
 */
import { existsSync } from 'node:fs';
import { type BrowserContext, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useBrowserFixture } from './browser/fixture.ts';
import { call, openTab } from './browser/multi-tab-tabs.ts';
import { waitFor } from './scripted-server.ts';
import { CHROMIUM } from '@syncline/test-utils';

const HANDOVERS = Number(process.env['MULTI_TAB_HANDOVERS'] ?? 6);
const RACES = Number(process.env['MULTI_TAB_RACES'] ?? 20);


interface Check {
  quick: string[];
  ids: string[];
  crud: number;
}

describe.skipIf(!existsSync(CHROMIUM))('multi-tab handover while the leader is writing', () => {
  const fx = useBrowserFixture('syncline-multi-tab-churn-');

  async function openAs(context: BrowserContext, expected: string): Promise<Page> {
    const page = await openTab(context, fx.server.url);
    expect(await call(page, 'open')).toBe(expected);
    return page;
  }

  /** Closes the page or crashes its renderer (the worker and its OPFS handles die with it). */
  async function kill(context: BrowserContext, page: Page, how: 'close' | 'crash'): Promise<void> {
    if (how === 'close') return page.close();
    const cdp = await context.newCDPSession(page);
    void cdp.send('Page.crash').catch(() => undefined);
    await page.waitForEvent('crash', { timeout: 10_000 }).catch(() => undefined);
    await page.close().catch(() => undefined);
  }

  it(`keeps the database sound and every committed write over ${HANDOVERS} handovers mid-commit`, { retry: 0, timeout: 60_000 + HANDOVERS * 20_000 }, async () => {
    const context = await fx.browser.newContext();
    let leader = await openAs(context, 'leader');
    let follower = await openAs(context, 'follower');
    /** Every churn round any leader reported committed, as todo ids. */
    const committed: string[] = [];
    const outcomes: string[] = [];
    try {
      for (let round = 0; round < HANDOVERS; round++) {
        const tag = `churn-${String(round).padStart(3, '0')}`;
        const how = round % 3 === 2 ? 'crash' : 'close';
        await call(leader, 'churn', tag);
        await waitFor(async () => (await call<number[]>(leader, 'churned')).length >= 1, 30_000, `${tag}: a first commit`);
        await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 600)));
        const done = await call<number[]>(leader, 'churned');
        committed.push(...done.map((n) => `${tag}-${String(n).padStart(4, '0')}`));
        await kill(context, leader, how);
        await waitFor(async () => (await call(follower, 'role')) === 'leader', 20_000, `${tag}: the follower took over`).catch(async (e: unknown) => {
          throw new Error(`${String(e)}: ${JSON.stringify(await call(follower, 'log'))}`);
        });
        let check: Check;
        try {
          check = await call<Check>(follower, 'check', 'churn-');
        } catch (e) {
          throw new Error(`round ${round} (${how} after ${done.length} commits): ${String(e)}; earlier rounds: ${outcomes.join(', ')}; log: ${JSON.stringify(await call(follower, 'log'))}`, { cause: e });
        }
        outcomes.push(`${how}:${done.length}`);
        expect(check.quick, `round ${round} (${how})`).toEqual(['ok']);
        const present = new Set(check.ids);
        expect(committed.filter((id) => !present.has(id)), `round ${round}: committed writes lost`).toEqual([]);
        // Nothing is uploaded (no connector): one queued entry per row present, none lost or doubled.
        expect(check.crud, `round ${round}: upload queue`).toBe(check.ids.length);
        leader = follower;
        follower = await openAs(context, 'follower');
      }
      console.log(`[multi-tab churn] ${HANDOVERS} handovers (how:commits before the kill): ${outcomes.join(' ')}`);
      await call(leader, 'stopChurn');
    } finally {
      await context.close();
    }
  });

  it('a worker taking over the OPFS pool while the old one exits never loses the database', { retry: 0, timeout: 120_000 }, async () => {
    const context = await fx.browser.newContext();
    const page = await openTab(context, fx.server.url);
    const outcomes: string[] = [];
    for (let i = 0; i < RACES; i++) {
      const started = Date.now();
      const found = await call<string>(page, 'raceOpen', 'race.db', Math.floor(Math.random() * 60));
      outcomes.push(found === `markers=${i + 1}` ? 'ok' : `race ${i}: ${found}`);
      if (process.env['MULTI_TAB_DEBUG']) console.log(`race ${i}: ${outcomes.at(-1)} in ${Date.now() - started} ms`);
    }
    await context.close();
    const counts = new Map<string, number>();
    for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
    console.log(`[multi-tab churn] ${RACES} pool takeovers racing the old worker's exit: ${JSON.stringify([...counts])}`);
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
  });
});
