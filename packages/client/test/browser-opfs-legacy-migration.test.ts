/**
 * Databases in the `opfs-sahpool` pool every database of an origin shared up to 0.1
 * (`.syncline-sahpool`), in headless Chromium: they are created the old way (test/browser/legacy-pool-worker.ts,
 * through the real adapter and `SynclineDatabase`: tables, rows, upload queue), then opened with
 * the client, which must move each into its own pool with every row and queue entry — also when
 * the worker is killed at any step of the move, and when the old pool holds a hot journal.
 */
import { existsSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { CHROMIUM } from '@syncline/test-utils';
import { useBrowserFixture } from './browser/fixture.ts';
import type { Contents, OpenOptions } from './browser/opfs-migration-page.ts';

const ROWS = 50;
/** Rounds of the random-moment crash test (`OPFS_MIGRATION_CRASHES`). */
const RANDOM_CRASHES = Number(process.env['OPFS_MIGRATION_CRASHES'] ?? 4);

function call<T = unknown>(page: Page, name: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([n, a]) => (globalThis as unknown as { opfsTest: Record<string, (...x: unknown[]) => unknown> }).opfsTest[n as string]!(...(a as unknown[])), [name, args] as const) as Promise<T>;
}

const ids = (filename: string, n = ROWS): string[] => Array.from({ length: n }, (_, i) => `${filename}-${String(i).padStart(4, '0')}`);
const complete = (filename: string, n = ROWS): Contents => ({ rows: n, ids: ids(filename, n), queued: n, check: 'ok' });

describe.skipIf(!existsSync(CHROMIUM))('moving databases out of the shared OPFS pool of 0.1 (Chromium)', () => {
  const fx = useBrowserFixture('syncline-opfs-migration-');

  async function openPage(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${fx.server.url}/opfs.html`);
    await page.waitForFunction(() => 'opfsTest' in globalThis);
    return page;
  }

  async function openAndRead(page: Page, filename: string, options: OpenOptions = {}): Promise<Contents> {
    expect(await call(page, 'open', filename, { opfsWaitMs: 10_000, ...options })).toEqual({ vfs: 'opfs-sahpool' });
    const contents = await call<Contents>(page, 'contents', filename);
    await call(page, 'close', filename);
    return contents;
  }

  // Before: the client kept using the shared pool (data there, `.syncline-sahpool` kept for good).
  it('moves a database with its rows and upload queue into its own pool and removes the shared pool', async () => {
    const context = await fx.browser.newContext();
    const page = await openPage(context);
    await call(page, 'createLegacy', 'app.db', ROWS);
    expect((await call<{ legacyFiles: number }>(page, 'opfs')).legacyFiles).toBeGreaterThan(0);

    expect(await openAndRead(page, 'app.db', { multiTab: true })).toEqual(complete('app.db'));
    expect(await call(page, 'opfs')).toMatchObject({ legacy: null, pools: ['app.db'] });
    // And it stays there: a second open reads the same data, and writes go on.
    expect(await call(page, 'open', 'app.db')).toEqual({ vfs: 'opfs-sahpool' });
    expect(await call(page, 'write', 'app.db', 'app.db-9999')).toEqual({ ok: true });
    expect(await call<Contents>(page, 'contents', 'app.db')).toEqual({ ...complete('app.db'), rows: ROWS + 1, ids: [...ids('app.db'), 'app.db-9999'], queued: ROWS + 1 });
    await call(page, 'close', 'app.db');
    await context.close();
  }, 120_000);

  // Before: the second database failed (the first one's worker held the whole shared pool).
  it('moves two databases of the shared pool when both are opened side by side', async () => {
    const context = await fx.browser.newContext();
    const page = await openPage(context);
    await call(page, 'createLegacy', 'a.db', ROWS);
    await call(page, 'createLegacy', 'b.db', 20);

    expect(await call(page, 'openSideBySide', ['a.db', 'b.db'])).toEqual([
      { vfs: 'opfs-sahpool', ...complete('a.db') },
      { vfs: 'opfs-sahpool', ...complete('b.db', 20) },
    ]);
    expect(await call(page, 'opfs')).toMatchObject({ legacy: null, pools: ['a.db', 'b.db'] });
    await context.close();
  }, 120_000);

  it('rolls back a hot journal left in the shared pool before moving the database', async () => {
    const context = await fx.browser.newContext();
    const page = await openPage(context);
    await call(page, 'createLegacy', 'hot.db', ROWS);
    await call(page, 'leaveHotJournal', 'hot.db');

    expect(await openAndRead(page, 'hot.db')).toEqual({ ...complete('hot.db'), filler: 0 });
    expect(await call(page, 'opfs')).toMatchObject({ legacy: null, pools: ['hot.db'] });
    await context.close();
  }, 120_000);

  /** Kills the page's renderer (its workers and their OPFS handles die with it). */
  async function crash(context: BrowserContext, page: Page): Promise<void> {
    const cdp = await context.newCDPSession(page);
    void cdp.send('Page.crash').catch(() => undefined);
    await page.waitForEvent('crash', { timeout: 10_000 }).catch(() => undefined);
    await page.close().catch(() => undefined);
  }

  const crashPoints: { step: string; tamper?: boolean }[] = [
    { step: 'recovered' },
    { step: 'imported' },
    { step: 'imported', tamper: true },
    { step: 'verified' },
    { step: 'legacy-removed' },
  ];
  for (const { step, tamper } of crashPoints) {
    it(`keeps every row when the page crashes at "${step}"${tamper ? ' with a torn copy in the new pool' : ''}`, async () => {
      const context = await fx.browser.newContext();
      const page = await openPage(context);
      await call(page, 'createLegacy', 'crash.db', ROWS);
      await call(page, 'createLegacy', 'other.db', 10);
      const stopped = call<string>(page, 'stoppedAt');
      void call(page, 'open', 'crash.db', { crashAt: step, tamper }).catch(() => undefined);
      expect(await stopped).toBe(step);
      await crash(context, page);

      const next = await openPage(context);
      expect(await openAndRead(next, 'crash.db')).toEqual(complete('crash.db'));
      expect(await call(next, 'opfs')).toMatchObject({ pools: expect.arrayContaining(['crash.db']) as unknown });
      // The other database was not touched, and moves in turn; then the shared pool is gone.
      expect(await openAndRead(next, 'other.db')).toEqual(complete('other.db', 10));
      expect(await call(next, 'opfs')).toMatchObject({ legacy: null, pools: ['crash.db', 'other.db'] });
      await context.close();
    }, 120_000);
  }

  it(`keeps every row when the page crashes at a random moment of opening (${RANDOM_CRASHES} rounds)`, async () => {
    const rows = 3000;
    const outcomes: string[] = [];
    for (let round = 0; round < RANDOM_CRASHES; round++) {
      const context = await fx.browser.newContext();
      const page = await openPage(context);
      await call(page, 'createLegacy', 'big.db', rows);
      const delay = Math.floor(Math.random() * 1500);
      const started = Date.now();
      const opened = call(page, 'open', 'big.db').then(() => Date.now() - started).catch(() => undefined);
      await new Promise((r) => setTimeout(r, delay));
      await crash(context, page);
      const state = await (async () => {
        const next = await openPage(context);
        const before = await call<{ legacyFiles: number | null }>(next, 'opfs');
        expect(await openAndRead(next, 'big.db'), `round ${round}, crash after ${delay} ms`).toEqual(complete('big.db', rows));
        expect(await call(next, 'opfs')).toMatchObject({ legacy: null, pools: ['big.db'] });
        return before.legacyFiles ? 'shared pool still there' : 'shared pool already removed';
      })();
      const openMs = await Promise.race([opened, new Promise<undefined>((r) => setTimeout(() => r(undefined), 0))]);
      outcomes.push(`crash at ${delay} ms: ${state}${openMs !== undefined ? ` (open had finished in ${openMs} ms)` : ''}`);
      await context.close();
    }
    console.info(`random crashes:\n  ${outcomes.join('\n  ')}`);
  }, 60_000 + RANDOM_CRASHES * 40_000);
});
