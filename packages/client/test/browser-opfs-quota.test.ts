/**
 * An origin whose storage quota is used up, in headless Chromium: the quota is really lowered
 * (DevTools Protocol `Storage.overrideQuotaForOrigin`), so creating or growing an `opfs-sahpool`
 * pool fails inside OPFS with `QuotaExceededError`. The client must answer `OPFS_POOL_FULL` with a
 * message that says what to do, leave the databases already there intact, and open once the quota
 * is raised again. A write to an open database that the quota refuses must fail with
 * `STORAGE_FULL` (SQLite itself says only "disk I/O error") and keep nothing of its transaction.
 */
import { existsSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { CHROMIUM } from '@syncline/test-utils';
import { useBrowserFixture } from './browser/fixture.ts';
import type { Contents } from './browser/opfs-migration-page.ts';

function call<T = unknown>(page: Page, name: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([n, a]) => (globalThis as unknown as { opfsTest: Record<string, (...x: unknown[]) => unknown> }).opfsTest[n as string]!(...(a as unknown[])), [name, args] as const) as Promise<T>;
}

/** Rows of the database in the shared pool: ~400 KB, more than the room left for moving it. */
const ROWS = 400;

type Opened = { vfs?: string; code?: string; message?: string };

describe.skipIf(!existsSync(CHROMIUM))('OPFS with the storage quota used up (Chromium)', () => {
  const fx = useBrowserFixture('syncline-opfs-quota-');

  async function read(page: Page, filename: string): Promise<Contents> {
    expect(await call(page, 'open', filename)).toEqual({ vfs: 'opfs-sahpool' });
    const contents = await call<Contents>(page, 'contents', filename);
    await call(page, 'close', filename);
    return contents;
  }

  /**
   * The origin's usage once it stops changing: a closed worker's OPFS handles give back the room
   * they had reserved a moment later, and until then the estimate counts it.
   */
  async function settledUsage(page: Page): Promise<number> {
    let last = -1;
    for (let i = 0; i < 50; i++) {
      const { usage } = await call<{ usage: number }>(page, 'estimate');
      if (usage === last) return usage;
      last = usage;
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`the storage usage did not settle (last ${last})`);
  }

  async function openTestPage(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${fx.server.url}/opfs.html`);
    await page.waitForFunction(() => 'opfsTest' in globalThis);
    return page;
  }

  it('fails with OPFS_POOL_FULL saying what to do, damages nothing, and opens once the quota is raised', async () => {
    const context = await fx.browser.newContext();
    const page = await openTestPage(context);
    const cdp = await context.newCDPSession(page);
    const origin = new URL(fx.server.url).origin;

    // A database in its own pool, with rows and upload-queue entries.
    expect(await call(page, 'open', 'kept.db')).toEqual({ vfs: 'opfs-sahpool' });
    for (const id of ['k1', 'k2', 'k3']) expect(await call(page, 'write', 'kept.db', id)).toEqual({ ok: true });
    await call(page, 'close', 'kept.db');
    const kept = await read(page, 'kept.db');
    expect(kept).toMatchObject({ ids: ['k1', 'k2', 'k3'], queued: 3, check: 'ok' });

    // Room for 1 KiB more: enough for the empty probe file sqlite-wasm creates on every pool install
    // (at exactly the usage not even an existing database opens), not for a new pool's six files
    // (each ~0.6 KB of header; with 8 KiB the pool is created and the first write fails instead).
    const quota = async (extra: number | undefined): Promise<void> => {
      const usage = await settledUsage(page);
      await cdp.send('Storage.overrideQuotaForOrigin', extra === undefined ? { origin } : { origin, quotaSize: usage + extra });
    };
    await quota(1024);
    const fresh = await call<Opened>(page, 'open', 'new.db');
    expect(fresh).toEqual({ code: 'OPFS_POOL_FULL', message: expect.stringMatching(/could not open or create the pool .*QuotaExceededError.*Nothing was written\. Free storage for this site .* then open the database again/) as unknown });
    expect(await read(page, 'kept.db')).toEqual(kept);

    // Room for the old database's new pool, not for a second copy of it.
    await quota(undefined);
    await call(page, 'createLegacy', 'old.db', ROWS);
    await quota(64 * 1024);
    const moving = await call<Opened>(page, 'open', 'old.db');
    expect(moving).toEqual({ code: 'OPFS_POOL_FULL', message: expect.stringMatching(/needs room for a second copy .*Expected to write \d+ bytes but wrote.*still in the shared pool, unchanged\. Free storage/) as unknown });

    // Nothing else was damaged: the open database reads as before, the old one is still in the shared pool.
    expect(await read(page, 'kept.db')).toEqual(kept);
    expect((await call<{ legacyFiles: number }>(page, 'opfs')).legacyFiles).toBeGreaterThan(0);

    // Quota back to normal: both open (the old one moved), and the new one takes writes.
    await quota(undefined);
    expect(await call(page, 'open', 'new.db')).toEqual({ vfs: 'opfs-sahpool' });
    expect(await call(page, 'write', 'new.db', 'n1')).toEqual({ ok: true });
    expect(await call<Contents>(page, 'contents', 'new.db')).toMatchObject({ ids: ['n1'], queued: 1, check: 'ok' });
    await call(page, 'close', 'new.db');
    expect(await read(page, 'old.db')).toMatchObject({ rows: ROWS, queued: ROWS, check: 'ok' });
    expect(await call(page, 'opfs')).toMatchObject({ legacy: null, pools: ['kept.db', 'new.db', 'old.db'] });
    console.info(`OPFS_POOL_FULL messages:\n  ${fresh.message}\n  ${moving.message}`);
    await context.close();
  }, 120_000);

  it('a write that the quota refuses fails with STORAGE_FULL, keeps nothing of its transaction, and the next write after more room succeeds', async () => {
    const context = await fx.browser.newContext();
    const page = await openTestPage(context);
    const cdp = await context.newCDPSession(page);
    const origin = new URL(fx.server.url).origin;

    // Two tabs: this one leads, the second writes through it (the code must survive the relay).
    expect(await call(page, 'open', 'full.db', { multiTab: true })).toEqual({ vfs: 'opfs-sahpool' });
    const follower = await openTestPage(context);
    expect(await call(follower, 'open', 'full.db', { multiTab: true })).toEqual({ vfs: 'opfs-sahpool' });
    expect(await call(page, 'writeMany', 'full.db', 'a', 50)).toEqual({ ok: true });
    const before = await call<Contents>(page, 'contents', 'full.db');
    expect(before).toMatchObject({ rows: 50, queued: 50, check: 'ok' });

    // Room for 64 KiB more with the database open: one transaction of ~400 KB (rows, upload queue,
    // journal) cannot fit, a single small row can.
    const { usage } = await call<{ usage: number }>(page, 'estimate');
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage + 64 * 1024 });
    const storageFull = {
      ok: false,
      code: 'STORAGE_FULL',
      message: expect.stringMatching(/storage is full: SQLite could not write "full\.db" \(this site uses \d+ of \d+ bytes of storage\).*not committed.*Free storage for this site/) as unknown,
    };
    const refused = await call<{ ok: boolean; code?: string; message?: string }>(page, 'writeMany', 'full.db', 'b', 1000);
    expect(refused).toEqual(storageFull);
    expect(await call(follower, 'writeMany', 'full.db', 'c', 1000)).toEqual(storageFull);
    // Nothing of the refused transaction is there, the rest is intact.
    expect(await call<Contents>(page, 'contents', 'full.db')).toEqual(before);

    await cdp.send('Storage.overrideQuotaForOrigin', { origin });
    expect(await call(page, 'writeMany', 'full.db', 'b', 1000)).toEqual({ ok: true });
    expect(await call(follower, 'writeMany', 'full.db', 'c', 1000)).toEqual({ ok: true });
    expect(await call<Contents>(page, 'contents', 'full.db')).toMatchObject({ rows: 2050, queued: 2050, check: 'ok' });
    await call(follower, 'close', 'full.db');
    await call(page, 'close', 'full.db');
    expect(await read(page, 'full.db')).toMatchObject({ rows: 2050, queued: 2050, check: 'ok' });
    console.info(`STORAGE_FULL message:\n  ${refused.message}`);
    await context.close();
  }, 120_000);
});
