/**
 * The React bindings in headless Chromium: a page bundled with esbuild (React 19) runs the browser
 * client against the real sync API (child process, real Postgres). Initial load, a live update
 * after a server-side change, loading and error states, a parameter change without flicker,
 * a Sync Stream subscribed while mounted and released on unmount, Suspense, and the upload-queue count.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSyncServer, type SyncServerProcess } from '@syncline/test-utils';
import { buildReactPage } from './browser/build.ts';
import { serveDirectory, type StaticServer } from './support/static-server.ts';
import { CHROMIUM, CHROMIUM_FLAGS, REACT_RULES, REACT_SCHEMA, seedSql, until } from './support/react-fixture.ts';

type Render = { listId: string; isLoading: boolean; isFetching: boolean; count: number; lists: string[]; error?: string };

function call<T>(page: Page, name: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([n, a]) => (globalThis as unknown as { reactTest: Record<string, (...x: unknown[]) => unknown> }).reactTest[n]!(...(a as unknown[])), [name, args] as const) as Promise<T>;
}

describe.skipIf(!existsSync(CHROMIUM))('@syncline/react in Chromium against the real sync API', () => {
  let server: SyncServerProcess;
  let site: StaticServer;
  let browser: Browser;
  let outdir: string;
  let page: Page;

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'syncline-react-'));
    [server] = await Promise.all([startSyncServer(inject('pgAdminUrl'), REACT_SCHEMA, REACT_RULES), buildReactPage(outdir)]);
    await server.sql(seedSql({ lists: ['l1', 'l2', 'l3'], todosPerList: 20 }));
    site = await serveDirectory(outdir);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    page = await browser.newPage();
    page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
    await page.goto(`${site.url}/index.html`);
    await page.waitForFunction(() => 'reactTest' in globalThis);
  }, 120_000);

  afterAll(async () => {
    if (page) await call(page, 'close').catch(() => undefined);
    await browser?.close();
    await site?.[Symbol.asyncDispose]();
    await server?.[Symbol.asyncDispose]();
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  const renders = (): Promise<Render[]> => call<Render[]>(page, 'renders');
  const attr = (selector: string, name: string): Promise<string | null> => page.locator(selector).getAttribute(name);

  it('shows loading, then the synced rows, and updates live after a server-side change', async () => {
    await call(page, 'start', server.url, server.token('user-1'), 'l1');
    const first = (await renders())[0];
    expect(first).toMatchObject({ isLoading: true, count: 0 });
    await until('the 20 todos of l1', async () => (await page.locator('#todos li').count()) === 20);
    expect(await attr('#status', 'data-connected')).toBe('true');
    await until('hasSynced', async () => (await attr('#status', 'data-synced')) === 'true');
    // Before the first checkpoint the local table is empty: a real result of 0 rows, not loading.
    expect((await renders()).filter((r) => r.isLoading).every((r) => r.count === 0)).toBe(true);
    expect((await renders()).at(-1)).toMatchObject({ isLoading: false, isFetching: false, count: 20 });

    await server.sql(`INSERT INTO todos (id, list_id, description) VALUES ('l1-new', 'l1', 'added on the server')`);
    await until('the server-side insert in the list', async () => (await page.locator('#todos li').count()) === 21);
    expect(await page.locator('#todos li').last().textContent()).toBe('added on the server');
    await server.sql(`UPDATE todos SET description = 'edited on the server' WHERE id = 'l1-new'`);
    await until('the server-side update', async () => (await page.locator('#todos li').last().textContent()) === 'edited on the server');
  }, 60_000);

  it('keeps the previous rows while a changed parameter re-queries (no empty render)', async () => {
    await call(page, 'clear');
    await call(page, 'view', { listId: 'l2' });
    await until('l2 rows', async () => (await renders()).some((r) => r.listId === 'l2' && r.lists.includes('l2')));
    const seen = await renders();
    // Every render after the switch showed either all of l1 (while fetching) or all of l2: never nothing.
    expect(seen.length).toBeGreaterThan(0);
    for (const r of seen) {
      expect(r.count).toBeGreaterThan(0);
      expect(r.lists).toHaveLength(1);
      if (r.lists[0] === 'l1') expect(r.isFetching).toBe(true);
    }
    expect(seen.at(-1)).toMatchObject({ listId: 'l2', isLoading: false, isFetching: false, count: 20, lists: ['l2'] });
    // A new params array with the same values does not re-query.
    const before = (await renders()).length;
    await call(page, 'view', { listId: 'l2' });
    await new Promise((r) => setTimeout(r, 200));
    expect((await renders()).slice(before).every((r) => !r.isFetching)).toBe(true);
  }, 60_000);

  it('reports a failing query in error, not as an exception', async () => {
    await call(page, 'view', { bad: true });
    await until('the error state', async () => ((await attr('#bad', 'data-error')) ?? '').length > 0);
    expect(await attr('#bad', 'data-error')).toMatch(/no such table/);
    expect(await attr('#bad', 'data-loading')).toBe('false');
    const events = await call<string[]>(page, 'events');
    expect(events).toContain('bad:true:none');
    await call(page, 'view', { bad: false });
  }, 30_000);

  it('subscribes to a Sync Stream while mounted and releases it on unmount', async () => {
    const count = (list: string): Promise<number> => call<number>(page, 'count', list);
    await server.sql(`INSERT INTO todos (id, list_id, description) SELECT 'other-' || g, 'other', 'streamed ' || g FROM generate_series(1, 7) g ON CONFLICT DO NOTHING`);
    await new Promise((r) => setTimeout(r, 300));
    expect(await count('other')).toBe(0);
    await call(page, 'view', { stream: 'other' });
    await until('stream synced', async () => (await attr('#stream', 'data-synced')) === 'true');
    expect(await attr('#stream', 'data-active')).toBe('true');
    // hasSynced means a checkpoint covering the stream was applied; under load that checkpoint may
    // predate the replication of the insert above, so wait for the rows themselves.
    await until('the 7 streamed rows', async () => (await count('other')) === 7);
    await call(page, 'view', { stream: null });
    // ttl: 0 — releasing the only handle ends the subscription and its rows go.
    await until('stream rows removed after unmount', async () => (await count('other')) === 0);
  }, 60_000);

  it('suspends until the first result and then renders live data', async () => {
    await call(page, 'clear');
    await call(page, 'view', { suspenseList: 'l3' });
    await until('suspense content', async () => (await page.locator('#suspense').count()) === 1);
    expect(await attr('#suspense', 'data-count')).toBe('20');
    const events = await call<string[]>(page, 'events');
    expect(events[0]).toBe('suspense-fallback');
    expect(events.filter((e) => e.startsWith('suspense-render:'))).not.toContain('suspense-render:0');
    await server.sql(`DELETE FROM todos WHERE id = 'l3-1'`);
    await until('live delete under suspense', async () => (await attr('#suspense', 'data-count')) === '19');
  }, 60_000);

  it('counts queued local writes until they are uploaded', async () => {
    const queued = async (): Promise<string | null> => attr('#queue', 'data-count');
    await until('the queue count', async () => (await queued()) === '0');
    await call(page, 'holdUploads', true);
    await call(page, 'localInsert', 'q-1', 'queued', 'first');
    await call(page, 'localInsert', 'q-2', 'queued', 'second');
    await until('two queued writes', async () => (await queued()) === '2');
    await call(page, 'holdUploads', false);
    await until('the queue drained after the uploads', async () => (await queued()) === '0');
  }, 30_000);
});
