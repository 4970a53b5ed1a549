/**
 * Multi-tab in headless Chromium against the real sync API and Postgres: pages of one context
 * share one OPFS database. The first is the leader (one sync connection, one upload loop); the
 * second runs its statements on it. Closing the leader in the middle of the first (large)
 * download makes the follower the leader, which resumes and ends with exactly the source rows;
 * writes the follower issued while the leader closed apply exactly once. A third tab joining
 * later sees the data and status, and its write reaches Postgres through the leader's upload
 * and shows up in both tabs' live queries. The server's metrics show one stream at a time.
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBrowserSyncFixture } from './browser/fixture.ts';
import { call, openTab } from './browser/multi-tab-tabs.ts';
import { waitFor } from './scripted-server.ts';
import { CHROMIUM } from '@syncline/test-utils';

const RULES = `
bucket_definitions:
  everything:
    data:
      - SELECT id, owner_id, description FROM todos
`;
/** Rows of the large first download the leader is closed in the middle of. */
const LARGE = 5_000;
/** Functional bound from the issue (measured times are printed). */
const HANDOVER_BOUND_MS = 5_000;
/** Handovers of the load test (`MULTI_TAB_HANDOVERS`). */
const HANDOVERS = Number(process.env['MULTI_TAB_HANDOVERS'] ?? 4);
/**
 * `MULTI_TAB_FIXED_SIZE=1`: the first round inserts the 1,000 rows and every later round updates
 * them (still a download under way at each handover, but the client database stops growing), so
 * the handover times can be set against the machine load alone.
 */
const FIXED_SIZE = process.env['MULTI_TAB_FIXED_SIZE'] === '1';

interface TabStatus {
  role: string;
  connected: boolean;
  hasSynced: boolean | undefined;
  downloading: boolean;
  downloaded: number | null;
  total: number | null;
  promotedAt: number | undefined;
  leaderConnectedAt: number | undefined;
  errors: string[];
}


type Crud = { op: 'PUT' | 'PATCH' | 'DELETE'; type: string; id: string; data?: Record<string, unknown> };

describe.skipIf(!existsSync(CHROMIUM))('multi-tab: one sync connection per database across the tabs of an origin', () => {
  // The snapshot is the large download the leader is closed in the middle of.
  const fx = useBrowserSyncFixture(
    'syncline-multi-tab-',
    `CREATE TABLE todos (id text PRIMARY KEY, owner_id text, description text);
     INSERT INTO todos VALUES ('tab-1', 'tabs', 'first'), ('tab-2', 'tabs', 'second');
     INSERT INTO todos SELECT 'big-' || lpad(g::text, 6, '0'), 'tabs', repeat('x', 100) || g FROM generate_series(1, ${LARGE}) g;`,
    RULES,
  );

  beforeAll(() => {
    // The app backend: applies each uploaded transaction to Postgres (idempotent upserts).
    fx.server.onUpload = async (body) => {
      for (const e of body as Crud[]) {
        if (e.op === 'DELETE') await fx.sync.sql(`DELETE FROM todos WHERE id = $1`, [e.id]);
        else await fx.sync.sql(`INSERT INTO todos (id, owner_id, description) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET owner_id = coalesce(EXCLUDED.owner_id, todos.owner_id), description = coalesce(EXCLUDED.description, todos.description)`, [e.id, e.data?.['owner_id'] ?? null, e.data?.['description'] ?? null]);
      }
    };
  });

  async function gauge(): Promise<{ open: number; opened: number }> {
    const text = await (await fetch(`${fx.sync.url}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { open: value('syncline_connections'), opened: value('syncline_streams_opened_total') };
  }

  async function sourceRows(): Promise<string[]> {
    return (await fx.sync.sql<{ r: string }>(`SELECT id || '=' || coalesce(description, '') AS r FROM todos ORDER BY id COLLATE "C"`)).map((x) => x.r);
  }


  it('shares one connection, hands over when the leader closes mid-download, and routes follower writes through the leader', async () => {
    const context = await fx.browser.newContext();
    const [a, b] = [await openTab(context, fx.server.url), await openTab(context, fx.server.url)];
    expect(await call(a, 'open')).toBe('leader');
    expect(await call(b, 'open')).toBe('follower');
    const token = fx.sync.token('tabs');
    await call(a, 'connect', fx.sync.url, token);
    await call(b, 'connect', fx.sync.url, token); // a follower keeps it for when it leads
    let maxOpen = 0;
    const sampler = setInterval(() => void gauge().then((g) => (maxOpen = Math.max(maxOpen, g.open)), () => undefined), 100);
    try {
      // The first sync is the large snapshot: close the leader in the middle of it (data arriving,
      // checkpoint not applied yet), as soon as that is seen.
      let atClose: TabStatus | undefined;
      await waitFor(
        async () => {
          const s = await call<TabStatus>(a, 'status');
          if (s.downloading && s.hasSynced === false && (s.downloaded ?? 0) > 0) atClose = s;
          return atClose !== undefined;
        },
        30_000,
        'download under way',
      ).catch(async (e: unknown) => {
        throw new Error(`${String(e)}: ${JSON.stringify({ a: await call(a, 'status'), log: await call(a, 'log') })}`);
      });
      // Writes in the follower while the leader goes away: each must apply exactly once.
      const writes = b.evaluate(async () => {
        const api = (globalThis as unknown as { multiTab: { insert(id: string, d: string): Promise<void> } }).multiTab;
        const failures: string[] = [];
        for (let i = 0; i < 20; i++) await api.insert(`tab-h-${String(i).padStart(2, '0')}`, `during handover ${i}`).catch((e: unknown) => failures.push(String(e)));
        return failures;
      });
      const openBeforeClose = maxOpen;
      const closedAt = Date.now();
      await a.close();
      await waitFor(async () => (await call<TabStatus>(b, 'status')).leaderConnectedAt !== undefined, HANDOVER_BOUND_MS, 'tab B connected as the leader').catch(async (e: unknown) => {
        await new Promise((r) => setTimeout(r, 15_000));
        throw new Error(`${String(e)}: ${JSON.stringify({ status: await call(b, 'status'), log: await call(b, 'log') })}`);
      });
      const sb = await call<TabStatus>(b, 'status');
      const promotedMs = sb.promotedAt! - closedAt;
      const connectedMs = sb.leaderConnectedAt! - closedAt;
      console.log(`[multi-tab] leader closed at ${atClose!.downloaded}/${atClose!.total} ops (checkpoint not applied); follower promoted after ${promotedMs} ms, connected after ${connectedMs} ms`);
      if (process.env['MULTI_TAB_DEBUG']) console.log((await call<string[]>(b, 'log')).join('\n'));
      expect(sb.role).toBe('leader');
      expect(connectedMs).toBeLessThanOrEqual(HANDOVER_BOUND_MS);
      expect(await writes).toEqual([]);
      // Before the handover the follower mirrored the leader's download and opened no stream.
      expect((await call<string[]>(b, 'log')).some((l) => l.includes('downloading=true role=follower'))).toBe(true);
      expect(openBeforeClose).toBe(1);

      // The new leader finishes the download and uploads the writes: exactly the source rows.
      await waitFor(async () => (await call<number>(b, 'queued')) === 0, 30_000, 'uploads by the new leader');
      const expected = await sourceRows();
      expect(expected.filter((r) => r.startsWith('tab-h-'))).toHaveLength(20);
      await waitFor(async () => JSON.stringify(await call<string[]>(b, 'rows')) === JSON.stringify(expected), 40_000, 'exactly the source rows').catch(async (e: unknown) => {
        throw new Error(`${String(e)}: ${JSON.stringify({ status: await call(b, 'status'), count: await call(b, 'count'), expected: expected.length })}`);
      });
      const afterHandover = await gauge();
      expect(afterHandover.open).toBe(1);
      expect(afterHandover.opened).toBe(2); // the first leader's stream, then the new leader's
      console.log(`[multi-tab] most streams open at once on the server: ${maxOpen} (before the close: ${openBeforeClose})`);

      // A new tab joins as a follower: it sees the synced rows and the status; its write goes
      // through the leader's upload to Postgres and shows up in both live queries.
      const c = await openTab(context, fx.server.url);
      expect(await call(c, 'open')).toBe('follower');
      await call(c, 'connect', fx.sync.url, token);
      expect(await call<string[]>(c, 'rows')).toEqual(expected);
      await waitFor(async () => (await call<TabStatus>(c, 'status')).connected && (await call<TabStatus>(c, 'status')).hasSynced === true, 10_000, 'status in the new follower');
      await call(c, 'insert', 'tab-from-c', 'written in tab C');
      await waitFor(async () => (await call<{ id: string }[]>(b, 'live')).some((r) => r.id === 'tab-from-c'), 10_000, "the leader's live query");
      await waitFor(async () => (await call<{ id: string }[]>(c, 'live')).some((r) => r.id === 'tab-from-c'), 10_000, "the follower's live query");
      await waitFor(async () => (await fx.sync.sql(`SELECT 1 FROM todos WHERE id = 'tab-from-c'`)).length === 1, 20_000, 'upload to Postgres');
      await waitFor(async () => (await call<number>(c, 'queued')) === 0, 20_000, 'upload queue drained');
      for (const p of [b, c]) expect((await call<TabStatus>(p, 'status')).errors).toEqual([]);
      expect((await gauge()).opened).toBe(afterHandover.opened); // the new tab opened no stream
      await call(c, 'close');
    } finally {
      clearInterval(sampler);
    }
    await call(b, 'close');
    await context.close();
  }, 120_000);

  /**
   * Repeated handovers under load (`MULTI_TAB_HANDOVERS`, default 4): each round adds rows in
   * Postgres (a download under way; `MULTI_TAB_FIXED_SIZE=1` updates the same rows instead), the
   * leader churns local write transactions (uploads) and the leader is closed or crashed (CDP `Page.crash`, every third round) in the middle of it. At the
   * end the last leader holds exactly the Postgres rows, its upload queue is empty, and every write
   * a leader reported committed reached Postgres. Prints the handover times.
   */
  it('measures handovers: leaders closed or crashed mid-download and mid-write lose nothing', { retry: 0, timeout: 120_000 + HANDOVERS * 30_000 }, async () => {
    const context = await fx.browser.newContext();
    const token = fx.sync.token('tabs');
    let leader = await openTab(context, fx.server.url);
    expect(await call(leader, 'open')).toBe('leader');
    await call(leader, 'connect', fx.sync.url, token);
    let follower = await openTab(context, fx.server.url);
    expect(await call(follower, 'open')).toBe('follower');
    await call(follower, 'connect', fx.sync.url, token);
    const committed: string[] = [];
    const times: string[] = [];
    try {
      for (let round = 0; round < HANDOVERS; round++) {
        const tag = `hand-${String(round).padStart(3, '0')}`;
        const how = round % 3 === 2 ? 'crash' : 'close';
        if (FIXED_SIZE && round > 0) await fx.sync.sql(`UPDATE todos SET description = repeat('y', 100) || '${tag}' WHERE id LIKE 'fixed-pg-%'`);
        else await fx.sync.sql(`INSERT INTO todos SELECT '${FIXED_SIZE ? 'fixed' : tag}-pg-' || lpad(g::text, 5, '0'), 'tabs', repeat('y', 100) || g FROM generate_series(1, 1000) g`);
        await call(leader, 'churn', tag);
        await waitFor(async () => (await call<number[]>(leader, 'churned')).length >= 1, 30_000, `${tag}: a first commit`);
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
        committed.push(...(await call<number[]>(leader, 'churned')).map((n) => `${tag}-${String(n).padStart(4, '0')}`));
        const killedAt = Date.now();
        if (how === 'close') await leader.close();
        else {
          void (await context.newCDPSession(leader)).send('Page.crash').catch(() => undefined);
          await leader.waitForEvent('crash', { timeout: 10_000 }).catch(() => undefined);
          await leader.close().catch(() => undefined);
        }
        await waitFor(async () => (await call<TabStatus>(follower, 'status')).leaderConnectedAt !== undefined, 20_000, `${tag}: the follower connected as the leader`).catch(async (e: unknown) => {
          throw new Error(`${String(e)}: ${JSON.stringify({ status: await call(follower, 'status'), log: await call(follower, 'log') })}`);
        });
        const s = await call<TabStatus>(follower, 'status');
        times.push(`${how} ${s.promotedAt! - killedAt}/${s.leaderConnectedAt! - killedAt} @${loadavg()[0]!.toFixed(1)}`);
        expect(s.errors, tag).toEqual([]);
        leader = follower;
        follower = await openTab(context, fx.server.url);
        expect(await call(follower, 'open')).toBe('follower');
        await call(follower, 'connect', fx.sync.url, token);
      }
      await call(leader, 'stopChurn');
      await waitFor(async () => (await call<number>(leader, 'queued')) === 0, 60_000, 'uploads drained');
      const expected = await sourceRows();
      const inPostgres = new Set(expected.map((r) => r.split('=')[0]));
      expect(committed.filter((id) => !inPostgres.has(id)), 'committed writes missing in Postgres').toEqual([]);
      await waitFor(async () => JSON.stringify(await call<string[]>(leader, 'rows')) === JSON.stringify(expected), 60_000, 'exactly the source rows').catch(async (e: unknown) => {
        throw new Error(`${String(e)}: ${JSON.stringify({ status: await call(leader, 'status'), count: await call(leader, 'count'), expected: expected.length })}`);
      });
      expect((await call<{ quick: string[] }>(leader, 'check', 'hand-')).quick).toEqual(['ok']);
      console.log(`[multi-tab] ${HANDOVERS} handovers under load${FIXED_SIZE ? ' (fixed-size database)' : ''}, promoted/connected ms after the kill @1-min load: ${times.join(', ')}; ${committed.length} committed writes all in Postgres`);
    } finally {
      await context.close();
    }
  });
});
