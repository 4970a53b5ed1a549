/**
 * `disconnectAndClear()` (log out) in a follower tab, in headless Chromium against the real sync
 * API and Postgres: only the leader syncs, so clearing the shared database from a follower must
 * also stop the leader's sync — else the leader keeps its connection and downloads the logged-out
 * user's rows into the cleared database again (at its next checkpoint: the emptied buckets fail
 * their checksums and are downloaded from scratch).
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useBrowserSyncFixture } from './browser/fixture.ts';
import { call, openTab } from './browser/multi-tab-tabs.ts';
import { waitFor } from './scripted-server.ts';
import { CHROMIUM } from '@syncline/test-utils';

const RULES = `
bucket_definitions:
  mine:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT id, owner_id, description FROM todos WHERE owner_id = bucket.owner_id
`;

describe.skipIf(!existsSync(CHROMIUM))('multi-tab: disconnectAndClear() in a follower tab', () => {
  const fx = useBrowserSyncFixture(
    'syncline-multi-tab-clear-',
    `CREATE TABLE todos (id text PRIMARY KEY, owner_id text, description text);
     INSERT INTO todos SELECT 'tab-' || g, 'me', 'row ' || g FROM generate_series(1, 20) g;`,
    RULES,
  );

  async function connections(): Promise<number> {
    const text = await (await fetch(`${fx.sync.url}/metrics`)).text();
    return Number(/^syncline_connections(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN);
  }

  it('stops the leader’s sync and clears every tab; nothing comes back until connect() is called again', async () => {
    await fx.sync.sql(`DELETE FROM todos WHERE id = 'tab-after'`); // a retry starts over
    const context = await fx.browser.newContext();
    const a = await openTab(context, fx.server.url);
    const b = await openTab(context, fx.server.url);
    expect(await call(a, 'open')).toBe('leader');
    expect(await call(b, 'open')).toBe('follower');
    const token = fx.sync.token('me');
    for (const p of [a, b]) await call(p, 'connect', fx.sync.url, token);
    await waitFor(async () => (await call<number>(b, 'count')) === 20, 20_000, 'first sync');
    await waitFor(async () => (await connections()) === 1, 10_000, 'the leader’s one connection');

    await call(b, 'disconnectAndClear');
    expect(await call<number>(b, 'count')).toBe(0);
    // A change for the logged-out user: a leader still syncing would fetch everything again.
    await fx.sync.sql(`INSERT INTO todos VALUES ('tab-after', 'me', 'after the clear')`);
    await waitFor(async () => (await connections()) === 0, 10_000, 'no sync connection left');
    await new Promise((r) => setTimeout(r, 3_000));
    for (const p of [a, b]) {
      expect(await call<number>(p, 'count')).toBe(0);
      const s = await call<{ connected: boolean; hasSynced: boolean | undefined }>(p, 'status');
      expect(s.connected).toBe(false);
      expect(s.hasSynced).toBe(false);
    }

    // Logging in again: connect() in the leader syncs for both tabs.
    await call(a, 'connect', fx.sync.url, token);
    await waitFor(async () => (await call<number>(b, 'count')) === 21, 20_000, 'sync after connecting again');
    for (const p of [b, a]) await call(p, 'close');
    await context.close();
  }, 120_000);
});
