/**
 * Several databases in one origin on OPFS (`opfs-sahpool`), in headless Chromium: each database
 * is opened in its own worker, side by side, and must open on OPFS, take a write and read it back.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_FLAGS } from '@syncline/test-utils';
import { buildBrowserBundle } from './browser/build.ts';
import { ScriptedSyncServer } from './scripted-server.ts';

type Opened = { vfs?: string; rows?: number; error?: string };

describe.skipIf(!existsSync(CHROMIUM))('several OPFS databases in one origin (Chromium)', () => {
  let outdir: string;
  let server: ScriptedSyncServer;
  let browser: Browser;

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'syncline-opfs-capacity-'));
    await buildBrowserBundle(outdir);
    server = await new ScriptedSyncServer(outdir).start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(outdir, { recursive: true, force: true });
  });

  type PageApi = { openMany(n: number): Promise<Opened[]>; openOneByOne(n: number): Promise<Opened[]>; createLegacyPool(): Promise<void> };
  const run = <K extends keyof PageApi>(page: import('playwright-core').Page, name: K, n = 0): Promise<Awaited<ReturnType<PageApi[K]>>> =>
    page.evaluate(([k, arg]) => (globalThis as unknown as { synclineTest: Record<string, (x: number) => Promise<unknown>> }).synclineTest[k]!(arg), [name, n] as const) as Promise<
      Awaited<ReturnType<PageApi[K]>>
    >;
  const fresh = async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/index.html`);
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

  // Before: the shared pool's 6 files were used up by three databases (file + journal each), and a
  // fourth failed with SQLITE_CANTOPEN.
  it('grows the legacy shared pool so that five databases opened one after another all fit', async () => {
    const { context, page } = await fresh();
    await run(page, 'createLegacyPool');
    expect(await run(page, 'openOneByOne', 5)).toEqual(allOnOpfs(1));
    expect(await run(page, 'openOneByOne', 5)).toEqual(allOnOpfs(2));
    await context.close();
  }, 120_000);
});
