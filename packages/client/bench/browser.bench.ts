/**
 * 100,000 rows into the browser: headless Chromium (Debian's /usr/bin/chromium via playwright-core),
 * SQLite WASM in a worker on OPFS (`opfs-sahpool`), the bundled test page of `test/browser/`.
 * The sync stream is the scripted protocol server (NDJSON, 1,000 ops per data line), so the number
 * is the client's download + store + validate + apply path, not the service's. Timed from the
 * moment the lines are sent until `waitForFirstSync()` resolves in the page (the checkpoint is
 * applied to the user-visible tables on OPFS). Target ≤ 5 s.
 *
 * The browser runs with an on-disk profile (`launchPersistentContext` in a temporary directory), as
 * a user's browser does. Playwright's default `newContext()` is an Incognito context, whose OPFS
 * lives in memory behind IPC: there each commit cost 2–3 s and 100,000 rows took ~21 s.
 * `BENCH_BROWSER_INCOGNITO=1` measures that mode. The result also names the CPU time Chromium's
 * processes used during the run (from /proc, Linux only).
 *
 * Run: `BENCH_ONLY=browser npm run bench`, or `npx tsx packages/client/bench/browser.bench.ts [rows]`.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, type BenchResult } from '@syncline/test-utils';
import { buildBrowserBundle } from '../test/browser/build.ts';
import { lines, putOp, type FixtureBucket } from '../test/scripted-lines.ts';
import { ScriptedSyncServer } from '../test/scripted-server.ts';

const OPS_PER_LINE = 1_000;

function call(page: Page, name: string, ...args: unknown[]): Promise<unknown> {
  return page.evaluate(([n, a]) => (globalThis as unknown as { synclineTest: Record<string, (...x: unknown[]) => unknown> }).synclineTest[n as string]!(...(a as unknown[])), [name, args] as const);
}

/** CPU seconds (user + system) used so far by this process's Chromium descendants (Linux /proc). */
function chromiumCpuSeconds(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  const tick = 100; // USER_HZ on Linux
  const procs = new Map<number, { ppid: number; cpu: number; chromium: boolean }>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const chromium = readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('chrom');
      procs.set(Number(pid), { ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / tick, chromium });
    } catch {
      // the process ended meanwhile
    }
  }
  const isDescendant = (pid: number): boolean => {
    for (let p = procs.get(pid)?.ppid; p !== undefined && p > 1; p = procs.get(p)?.ppid) if (p === process.pid) return true;
    return false;
  };
  let total = 0;
  for (const [pid, p] of procs) if (p.chromium && isDescendant(pid)) total += p.cpu;
  return total;
}

export async function benchBrowser(rows = 100_000): Promise<BenchResult[]> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install -y chromium)`);
  const outdir = mkdtempSync(join(tmpdir(), 'syncline-browser-bench-'));
  const profile = mkdtempSync(join(tmpdir(), 'syncline-browser-profile-'));
  const incognito = process.env['BENCH_BROWSER_INCOGNITO'] === '1';
  const server = await new ScriptedSyncServer(outdir).start();
  const args = CHROMIUM_FLAGS;
  let context: BrowserContext;
  let closeBrowser: () => Promise<void>;
  if (incognito) {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args });
    context = await browser.newContext();
    closeBrowser = () => browser.close();
  } else {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args });
    closeBrowser = () => context.close();
  }
  try {
    await buildBrowserBundle(outdir);
    const ops = Array.from({ length: rows }, (_, i) => putOp(i + 1, 'todos', `row-${i}`, { description: `todo ${i} ${'x'.repeat(100)}`, big: i }));
    const bucket: FixtureBucket = { bucket: 'bench', ops };
    const script = [lines.checkpoint(rows, [bucket])];
    for (let i = 0; i < rows; i += OPS_PER_LINE) script.push(lines.data('bench', ops.slice(i, i + OPS_PER_LINE), i === 0 ? '0' : String(i)));
    script.push(lines.complete(rows));
    const bytes = script.reduce((n, l) => n + l.length + 1, 0);

    const page = await context.newPage();
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => 'synclineTest' in globalThis);
    const vfs = await call(page, 'open', 'opfs-sahpool');
    await call(page, 'connect');
    const stream = await server.nextStream();
    const cpu0 = chromiumCpuSeconds();
    const t0 = performance.now();
    stream.send(...script);
    await call(page, 'waitForFirstSync');
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = chromiumCpuSeconds();
    const cpu = cpu0 === undefined || cpu1 === undefined ? '' : `; Chromium CPU ${(cpu1 - cpu0).toFixed(1)} s`;
    const count = (await call(page, 'count')) as number;
    if (count !== rows) throw new Error(`expected ${rows} rows in the browser, found ${count}`);
    await call(page, 'close');
    const mode = incognito ? 'Incognito context' : 'on-disk profile';
    return [
      {
        name: `${rows.toLocaleString('en')} rows into Chromium (${String(vfs)}, ${mode})`,
        value: Number(seconds.toFixed(2)),
        unit: 's',
        note: `target ≤ 5 s; ${(rows / seconds).toFixed(0)} rows/s; ${(bytes / 2 ** 20).toFixed(1)} MiB NDJSON${cpu}`,
      },
    ];
  } finally {
    await closeBrowser();
    await server.close();
    rmSync(outdir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = Number(process.argv[2] ?? 100_000);
  for (const r of await benchBrowser(rows)) console.log(`${r.name}: ${r.value} ${r.unit} (${r.note ?? ''})`);
}
