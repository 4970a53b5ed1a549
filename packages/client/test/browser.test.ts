/**
 * The browser build in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
 * SQLite WASM in a worker with OPFS (opfs-sahpool) — and the IndexedDB fallback — syncs from a
 * scripted protocol server, writes locally, uploads, reloads the page and still has the data.
 */
import { existsSync } from 'node:fs';
import { type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useBrowserFixture } from './browser/fixture.ts';
import { lines, putOp, type FixtureBucket } from './scripted-lines.ts';
import { waitFor } from './scripted-server.ts';
import { CHROMIUM } from '@syncline/test-utils';


type Api = {
  open(vfs?: string): Promise<string>;
  connect(): Promise<void>;
  waitForFirstSync(): Promise<void>;
  insert(id: string, description: string): Promise<void>;
  rows(): Promise<{ id: string; description: string | null; big: string | null }[]>;
  queued(): Promise<number>;
  close(): Promise<void>;
  status(): unknown;
};

function call<K extends keyof Api>(page: Page, name: K, ...args: Parameters<Api[K]>): Promise<Awaited<ReturnType<Api[K]>>> {
  return page.evaluate(
    ([n, a]) => (globalThis as unknown as { synclineTest: Record<string, (...x: unknown[]) => unknown> }).synclineTest[n]!(...a),
    [name, args] as [string, unknown[]],
  ) as Promise<Awaited<ReturnType<Api[K]>>>;
}

describe.skipIf(!existsSync(CHROMIUM))('browser adapter in headless Chromium', () => {
  const fx = useBrowserFixture('syncline-browser-');

  async function openPage(): Promise<Page> {
    const page = await fx.browser.newPage();
    await page.goto(`${fx.server.url}/index.html`);
    await page.waitForFunction(() => 'synclineTest' in globalThis);
    return page;
  }

  for (const vfs of ['opfs-sahpool', 'indexeddb'] as const) {
    it(`syncs, writes, uploads, reloads and keeps the data (${vfs})`, async () => {
      const context = await fx.browser.newContext();
      const page = await context.newPage();
      await page.goto(`${fx.server.url}/index.html`);
      await page.waitForFunction(() => 'synclineTest' in globalThis);
      expect(await call(page, 'open', vfs)).toBe(vfs);

      await call(page, 'connect');
      const stream = await fx.server.nextStream();
      const b: FixtureBucket = {
        bucket: `b-${vfs}`,
        ops: [putOp(1, 'todos', 'server-1', { description: 'from server' }), putOp(2, 'todos', 'big', '{"id":"big","big":9223372036854775807}')],
      };
      stream.send(lines.checkpoint(2, [b]), lines.data(b.bucket, b.ops), lines.complete(2));
      await call(page, 'waitForFirstSync');
      expect(await call(page, 'rows')).toEqual([
        { id: 'big', description: null, big: '9223372036854775807' },
        { id: 'server-1', description: 'from server', big: null },
      ]);

      const uploadsBefore = fx.server.uploads.length;
      const checkpointsBefore = fx.server.writeCheckpointRequests.length;
      await call(page, 'insert', 'local-1', 'written in the browser');
      await waitFor(async () => fx.server.uploads.length > uploadsBefore && (await call(page, 'queued')) === 0, 10_000, 'browser upload');
      expect(fx.server.uploads.at(-1)).toMatchObject([{ op: 'PUT', type: 'todos', id: 'local-1', data: { description: 'written in the browser' } }]);
      await waitFor(() => fx.server.writeCheckpointRequests.length > checkpointsBefore, 10_000, 'write checkpoint request');
      const wc = String(fx.server.nextWriteCheckpoint - 1);
      const b2: FixtureBucket = { ...b, ops: [...b.ops, putOp(3, 'todos', 'local-1', { description: 'written in the browser' })] };
      stream.send(lines.diff(3, [b2], [], wc), lines.data(b.bucket, b2.ops.slice(2), '2'), lines.complete(3));
      await waitFor(async () => (await call(page, 'rows')).length === 3, 10_000, 'applied upload');

      await call(page, 'close');
      await page.reload();
      await page.waitForFunction(() => 'synclineTest' in globalThis);
      expect(await call(page, 'open', vfs)).toBe(vfs);
      expect((await call(page, 'rows')).map((r) => r.id)).toEqual(['big', 'local-1', 'server-1']);
      expect(await call(page, 'queued')).toBe(0);
      await call(page, 'close');
      await context.close();
    }, 60_000);
  }

  it('picks OPFS automatically', async () => {
    const page = await openPage();
    expect(await call(page, 'open')).toBe('opfs-sahpool');
    await call(page, 'close');
    await page.close();
  }, 30_000);
});
