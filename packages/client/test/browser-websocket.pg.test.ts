/**
 * The WebSocket transport in headless Chromium (the browser's own WebSocket, BSON decoded by the
 * bundled `bson`) against the real sync API and Postgres: first sync onto OPFS with an exact
 * 64-bit value, then a live change arriving over the same socket.
 */
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useBrowserSyncFixture } from './browser/fixture.ts';
import { waitFor } from './scripted-server.ts';
import { CHROMIUM } from '@syncline/test-utils';

const RULES = `
bucket_definitions:
  mine:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT id, description, big FROM todos WHERE owner_id = bucket.owner_id
`;

function call(page: Page, name: string, ...args: unknown[]): Promise<unknown> {
  return page.evaluate(([n, a]) => (globalThis as unknown as { synclineTest: Record<string, (...x: unknown[]) => unknown> }).synclineTest[n as string]!(...(a as unknown[])), [name, args] as const);
}

describe.skipIf(!existsSync(CHROMIUM))('WebSocket transport in Chromium against the real sync API', () => {
  const fx = useBrowserSyncFixture('syncline-browser-ws-', `CREATE TABLE todos (id text PRIMARY KEY, owner_id text NOT NULL, description text, big bigint);`, RULES);

  it('syncs onto OPFS over RSocket/BSON and receives live changes', async () => {
    await fx.sync.sql(`INSERT INTO todos VALUES ('b-1', 'browser', 'Milk', 9223372036854775807), ('b-2', 'browser', 'Bread', null)`);
    const context = await fx.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${fx.server.url}/index.html`);
    await page.waitForFunction(() => 'synclineTest' in globalThis);
    expect(await call(page, 'open', 'opfs-sahpool')).toBe('opfs-sahpool');
    await call(page, 'connect', { endpoint: fx.sync.url, token: fx.sync.token('browser'), transport: 'websocket' });
    await waitFor(async () => ((await call(page, 'rows')) as unknown[]).length === 2, 30_000, 'first sync over WebSocket');
    expect(await call(page, 'rows')).toEqual([
      { id: 'b-1', description: 'Milk', big: '9223372036854775807' },
      { id: 'b-2', description: 'Bread', big: null },
    ]);
    expect(await call(page, 'status')).toMatchObject({ connected: true, transport: 'websocket', transportFallback: undefined });
    await fx.sync.sql(`UPDATE todos SET description = 'Oat milk' WHERE id = 'b-1'`);
    await waitFor(async () => ((await call(page, 'rows')) as { description: string }[])[0]?.description === 'Oat milk', 30_000, 'live change');
    await call(page, 'close');
    await context.close();
  }, 120_000);
});
