/**
 * `useQuery` re-render after a synced change, in Chromium: the React test page (production React
 * 19, browser client in a worker) shows a 1,000-row list from the real sync API; each iteration
 * updates one row in Postgres and waits until the list's DOM commit shows it. Measured per
 * iteration, in the page's clock (epoch ms with sub-ms precision):
 *   - change → commit: the client's table-change notification (checkpoint applied to SQLite)
 *     → the React commit with the new rows (watch throttle + 1,000-row query + render);
 *   - Postgres → commit: just before the UPDATE (bench process, same machine clock) → commit.
 * Run with useQuery's default (no throttle) and with `throttleMs: 30` (the client watch's default). Target p50 ≤ 16 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BenchResult } from '@syncline/test-utils';
import { startSyncServer } from '@syncline/test-utils';
import { buildReactPage } from '../test/browser/build.ts';
import { serveDirectory } from '../test/support/static-server.ts';
import { CHROMIUM, CHROMIUM_FLAGS, REACT_RULES, REACT_SCHEMA, seedSql, until } from '../test/support/react-fixture.ts';

const ROWS = 1000;
const ITERATIONS = Number(process.env['BENCH_REACT_ITERATIONS'] ?? 100);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const round = (n: number): number => Math.round(n * 10) / 10;

export async function benchReactUseQuery(adminUrl: string): Promise<BenchResult[]> {
  const outdir = mkdtempSync(join(tmpdir(), 'syncline-react-bench-'));
  await using server = await startSyncServer(adminUrl, REACT_SCHEMA, REACT_RULES);
  await server.sql(seedSql({ lists: ['big'], todosPerList: ROWS }));
  await buildReactPage(outdir);
  await using site = await serveDirectory(outdir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  const results: BenchResult[] = [];
  try {
    for (const throttleMs of [undefined, 30] as const) {
      const page = await browser.newPage();
      await page.goto(`${site.url}/index.html`);
      await page.waitForFunction(() => 'reactTest' in globalThis);
      type T = { reactTest: Record<string, (...a: unknown[]) => unknown> };
      const call = <R>(name: string, ...args: unknown[]): Promise<R> => page.evaluate(([n, a]) => (globalThis as unknown as T).reactTest[n]!(...(a as unknown[])), [name, args] as const) as Promise<R>;
      await call('start', server.url, server.token('user-1'), 'big', throttleMs);
      await until('1,000 rows rendered', async () => (await page.locator('#todos li').count()) === ROWS, 60_000);
      const changeToCommit: number[] = [];
      const sourceToCommit: number[] = [];
      for (let i = 0; i < ITERATIONS + 5; i++) {
        await call('clear');
        const text = `iteration ${throttleMs ?? 'default'} ${i}`;
        const t0 = performance.timeOrigin + performance.now();
        await server.sql(`UPDATE todos SET description = $1 WHERE id = 'big-1'`, [text]);
        let commit: { at: number } | undefined;
        await until('the update rendered', async () => {
          commit = (await call<{ at: number; first: string }[]>('commits')).find((c) => c.first === text);
          return commit !== undefined;
        });
        const changes = await call<number[]>('changes');
        const change = changes.filter((c) => c <= commit!.at).at(-1);
        if (i < 5 || change === undefined) continue; // warm-up
        changeToCommit.push(commit!.at - change);
        sourceToCommit.push(commit!.at - t0);
      }
      await call('close');
      await page.close();
      const label = throttleMs === undefined ? 'useQuery default, no throttle' : 'throttleMs: 30, the watch default';
      for (const [name, values] of [['change → commit', changeToCommit], ['Postgres UPDATE → commit', sourceToCommit]] as const) {
        const sorted = [...values].sort((a, b) => a - b);
        results.push({ name: `useQuery re-render, 1,000 rows, ${name}, p50 (${label})`, value: round(percentile(sorted, 50)), unit: 'ms', note: `n=${sorted.length}` });
        results.push({ name: `useQuery re-render, 1,000 rows, ${name}, p99 (${label})`, value: round(percentile(sorted, 99)), unit: 'ms', note: `max ${round(sorted.at(-1) ?? NaN)} ms` });
      }
    }
  } finally {
    await browser.close();
    rmSync(outdir, { recursive: true, force: true });
  }
  return results;
}
