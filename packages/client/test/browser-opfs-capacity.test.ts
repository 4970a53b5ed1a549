/**
 * Several databases in one origin on OPFS (`opfs-sahpool`), in headless Chromium: each database
 * is opened in its own worker, side by side, and must open on OPFS, take a write and read it back.
 */
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { CHROMIUM } from '@syncline/test-utils';
import { useBrowserFixture } from './browser/fixture.ts';

type Opened = { vfs?: string; rows?: number; error?: string };

describe.skipIf(!existsSync(CHROMIUM))('several OPFS databases in one origin (Chromium)', () => {
  const fx = useBrowserFixture('syncline-opfs-capacity-');

  type PageApi = { openMany(n: number): Promise<Opened[]>; openOneByOne(n: number): Promise<Opened[]>; createLegacyPool(): Promise<void> };
  const run = <K extends keyof PageApi>(page: Page, name: K, n = 0): Promise<Awaited<ReturnType<PageApi[K]>>> =>
    page.evaluate(([k, arg]) => (globalThis as unknown as { synclineTest: Record<string, (x: number) => Promise<unknown>> }).synclineTest[k]!(arg), [name, n] as const) as Promise<
      Awaited<ReturnType<PageApi[K]>>
    >;
  const fresh = async () => {
    const context = await fx.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${fx.server.url}/index.html`);
    await page.waitForFunction(() => 'synclineTest' in globalThis);
    return { context, page };
  };
  const allOnOpfs = (rows: number): Opened[] => Array.from({ length: 5 }, () => ({ vfs: 'opfs-sahpool', rows }));

  // Before: one pool for the origin, held exclusively by the worker of the first database, so the
  // second one open at the same time failed (NoModificationAllowedError).
  it('opens five databases side by side, each on OPFS in a pool of its own, and keeps them', async () => {
    const { context, page } = await fresh();
    expect(await run(page, 'openMany', 5)).toEqual(allOnOpfs(1));
    expect(await run(page, 'openMany', 5)).toEqual(allOnOpfs(2));
    await context.close();
  }, 120_000);

  // Before: databases went into the shared pool of 0.1 wherever it existed, whose 6 files were used
  // up by three databases (file + journal each), and a fourth failed with SQLITE_CANTOPEN. Now an
  // empty shared pool is removed on the first open (see browser-opfs-legacy-migration.test.ts).
  it('opens five databases one after another in an origin with an empty shared pool of 0.1', async () => {
    const { context, page } = await fresh();
    await run(page, 'createLegacyPool');
    expect(await run(page, 'openOneByOne', 5)).toEqual(allOnOpfs(1));
    expect(await run(page, 'openOneByOne', 5)).toEqual(allOnOpfs(2));
    await context.close();
  }, 120_000);
});
