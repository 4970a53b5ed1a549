/**
 * Offline on OPFS in headless Chromium: after a first sync the browser goes offline
 * (context.setOffline), the app writes, the page reloads while still offline (the page's files
 * come from Playwright's route cache, as a service worker would serve them) and finds its data and
 * its upload queue on OPFS; back online it uploads the writes in order and converges with the
 * server's checkpoint.
 */
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { type BrowserContext, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useBrowserFixture } from './browser/fixture.ts';
import { lines, putOp, type FixtureBucket } from './scripted-lines.ts';
import { waitFor } from './scripted-server.ts';
import { CHROMIUM } from '@syncline/test-utils';

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

function call(page: Page, name: string, ...args: unknown[]): Promise<unknown> {
  return page.evaluate(([n, a]) => (globalThis as unknown as { synclineTest: Record<string, (...x: unknown[]) => unknown> }).synclineTest[n as string]!(...(a as unknown[])), [name, args] as const);
}

describe.skipIf(!existsSync(CHROMIUM))('offline on OPFS in headless Chromium', () => {
  const fx = useBrowserFixture('syncline-offline-');

  /** Serves the page's own files without the network (the app-shell cache of a real PWA). */
  async function serveShellOffline(context: BrowserContext): Promise<void> {
    await context.route(/\.(html|js|wasm)$/, (route) => {
      const file = join(fx.outdir, new URL(route.request().url()).pathname);
      return route.fulfill({ path: file, contentType: TYPES[extname(file)] ?? 'application/octet-stream' });
    });
  }

  async function load(page: Page): Promise<void> {
    await page.waitForFunction(() => 'synclineTest' in globalThis);
    expect(await call(page, 'open', 'opfs-sahpool')).toBe('opfs-sahpool');
  }

  it('writes offline, survives a reload offline, then uploads in order and converges', async () => {
    const context = await fx.browser.newContext();
    await serveShellOffline(context);
    const page = await context.newPage();
    await page.goto(`${fx.server.url}/index.html`);
    await load(page);
    await call(page, 'connect');
    let stream = await fx.server.nextStream();
    const b: FixtureBucket = { bucket: 'offline', ops: [putOp(1, 'todos', 'server-1', { description: 'from server' })] };
    stream.send(lines.checkpoint(1, [b]), lines.data(b.bucket, b.ops), lines.complete(1));
    await call(page, 'waitForFirstSync');

    await context.setOffline(true);
    stream.end(); // the connection drops; reconnect attempts now fail offline
    const uploadsBefore = fx.server.uploads.length;
    for (const id of ['off-1', 'off-2', 'off-3']) await call(page, 'insert', id, `written offline ${id}`);
    expect(await call(page, 'queued')).toBe(3);

    await call(page, 'close');
    await page.reload();
    await load(page);
    expect(((await call(page, 'rows')) as { id: string }[]).map((r) => r.id)).toEqual(['off-1', 'off-2', 'off-3', 'server-1']);
    expect(await call(page, 'queued')).toBe(3);
    await call(page, 'connect');
    await new Promise((r) => setTimeout(r, 500));
    expect(fx.server.uploads.length).toBe(uploadsBefore); // nothing got out while offline
    expect((await call(page, 'status')) as { connected: boolean }).toMatchObject({ connected: false });

    await context.setOffline(false);
    await waitFor(async () => (await call(page, 'queued')) === 0, 20_000, 'uploads after reconnect');
    const uploaded = fx.server.uploads.slice(uploadsBefore).flat() as { id: string; op: string }[];
    expect(uploaded.map((e) => `${e.op}:${e.id}`)).toEqual(['PUT:off-1', 'PUT:off-2', 'PUT:off-3']);

    stream = await fx.server.nextStream(20_000);
    await waitFor(() => fx.server.writeCheckpointRequests.length > 0, 10_000, 'write checkpoint request');
    const wc = String(fx.server.nextWriteCheckpoint - 1);
    const ops = [...b.ops, putOp(2, 'todos', 'off-1', { description: 'written offline off-1' }), putOp(3, 'todos', 'off-2', { description: 'edited by the server' }), putOp(4, 'todos', 'off-3', { description: 'written offline off-3' })];
    const b2 = { ...b, ops };
    stream.send(lines.checkpoint(4, [b2], wc), lines.data(b.bucket, ops.slice(1), '1'), lines.complete(4));
    await waitFor(async () => ((await call(page, 'rows')) as { description: string }[]).some((r) => r.description === 'edited by the server'), 20_000, 'converged').catch(async (e: unknown) => {
      throw new Error(`${String(e)}: ${JSON.stringify({ streams: fx.server.streams.map((s) => s.closed), status: await call(page, 'status'), rows: await call(page, 'rows') })}`);
    });
    expect(((await call(page, 'rows')) as { id: string; description: string }[]).map((r) => `${r.id}=${r.description}`)).toEqual([
      'off-1=written offline off-1',
      'off-2=edited by the server',
      'off-3=written offline off-3',
      'server-1=from server',
    ]);
    await call(page, 'close');
    await context.close();
  }, 90_000);
});
