/**
 * The published packages as a user gets them: `npm pack` the three packages (generated manifests,
 * dist only at runtime), install the tarballs into a fresh project under os.tmpdir() with
 * better-sqlite3 and React, then (i) a plain Node ESM script there syncs from the real sync API,
 * (ii) a page bundled by esbuild from that project (packages from its node_modules, worker + the
 * package's sqlite3.wasm asset) syncs in Chromium and renders with @syncline/react, and (iii) the
 * installed declarations type-check. Both clients must hold exactly the server's rows.
 *
 * better-sqlite3 is installed with --ignore-scripts and given the workspace's compiled binary (same
 * version and Node), which saves a ~70 s native build; PACK_TEST_NATIVE_BUILD=1 builds it instead.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSyncServer, type SyncServerProcess } from '@syncline/test-utils';
import { serveDirectory } from './support/static-server.ts';
import { CHROMIUM, CHROMIUM_FLAGS, REACT_RULES, REACT_SCHEMA, seedSql } from './support/react-fixture.ts';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const REPO = join(here, '../../..');
const require = createRequire(import.meta.url);
type Todo = { id: string; list_id: string; description: string };

describe('packed @syncline/* packages installed into a fresh project', () => {
  let work: string;
  let project: string;
  let server: SyncServerProcess;
  let expected: Todo[];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'syncline-pack-'));
    project = join(work, 'app');
    mkdirSync(project);
    const [tarballs, started] = await Promise.all([
      // `npm run pack:packages` as a user of the repo runs it (prints "<name>: <tarball>" lines).
      run('npm', ['run', '--silent', 'pack:packages', '--', join(work, 'tarballs')], { cwd: REPO, timeout: 180_000 }).then(({ stdout }) => new Map(stdout.trim().split('\n').map((l) => l.split(': ') as [string, string]))),
      startSyncServer(inject('pgAdminUrl'), REACT_SCHEMA, REACT_RULES),
    ]);
    server = started;
    await server.sql(seedSql({ lists: ['a', 'b'], todosPerList: 30 }) + seedSql({ lists: ['z'], todosPerList: 5, owner: 'user-2' }));
    expected = await server.sql<Todo>(`SELECT t.id, t.list_id, t.description FROM todos t JOIN lists l ON l.id = t.list_id WHERE l.owner_id = 'user-1' ORDER BY t.id COLLATE "C"`);
    expect(expected).toHaveLength(60);

    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'syncline-pack-test', private: true, type: 'module' }));
    const native = process.env['PACK_TEST_NATIVE_BUILD'] === '1';
    const bsqlVersion = (JSON.parse(readFileSync(require.resolve('better-sqlite3/package.json'), 'utf8')) as { version: string }).version;
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...(native ? [] : ['--ignore-scripts']), ...tarballs.values(), `better-sqlite3@${bsqlVersion}`, 'react@19.3.1', 'react-dom@19.3.1'], { cwd: project, timeout: 240_000 });
    if (!native) {
      const binary = join(dirname(require.resolve('better-sqlite3/package.json')), 'build/Release/better_sqlite3.node');
      mkdirSync(join(project, 'node_modules/better-sqlite3/build/Release'), { recursive: true });
      copyFileSync(binary, join(project, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'));
    }
    for (const f of ['node-sync.mjs', 'page.mjs', 'worker.mjs', 'types-check.ts']) copyFileSync(join(here, 'installed', f), join(project, f));
  }, 240_000);

  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs manifests that point at JavaScript and declarations only', () => {
    const client = JSON.parse(readFileSync(join(project, 'node_modules/@syncline/client/package.json'), 'utf8')) as { private?: boolean; exports: Record<string, unknown>; dependencies: Record<string, string> };
    expect(client.private).toBeUndefined();
    expect(client.dependencies['@syncline/protocol']).toBe('^0.1.0');
    const targets = JSON.stringify(client.exports);
    expect(targets).not.toMatch(/\.\/src\//);
    for (const key of ['.', './node', './browser', './worker', './sqlite3.wasm']) expect(client.exports).toHaveProperty([key]);
    expect(existsSync(join(project, 'node_modules/@syncline/client/dist/sqlite3.wasm'))).toBe(true);
  });

  it('syncs with plain Node (ESM, no TypeScript loader)', async () => {
    const { stdout } = await run(process.execPath, ['node-sync.mjs'], { cwd: project, timeout: 60_000, env: { PATH: process.env['PATH'] ?? '', SYNC_URL: server.url, SYNC_TOKEN: server.token('user-1') } });
    const rows = JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as Todo[];
    expect(rows.sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual(expected);
  }, 90_000);

  it('type-checks against the installed declarations', async () => {
    const tsc = require.resolve('typescript/bin/tsc');
    const options = { noEmit: true, strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'dom'], skipLibCheck: true, types: [] };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['types-check.ts'] }));
    const result = await run(process.execPath, [tsc, '-p', '.'], { cwd: project, timeout: 60_000 }).catch((e: { stdout?: string }) => ({ stdout: `FAILED\n${e.stdout ?? ''}` }));
    expect(result.stdout).toBe('');
    // The check can fail: a wrong type against the installed declarations is an error.
    writeFileSync(join(project, 'types-bad.ts'), `import { column } from '@syncline/client';\nconst n: number = column.text;\nexport { n };\n`);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['types-bad.ts'] }));
    const bad = await run(process.execPath, [tsc, '-p', '.'], { cwd: project, timeout: 60_000 }).then(() => '', (e: { stdout?: string }) => e.stdout ?? '');
    expect(bad).toMatch(/TS2322/);
  }, 90_000);

  it.skipIf(!existsSync(CHROMIUM))('bundles a React page from the installed packages that syncs in Chromium', async () => {
    const site = join(work, 'site');
    mkdirSync(site);
    const common = { bundle: true, format: 'esm' as const, platform: 'browser' as const, target: 'es2022', absWorkingDir: project, logLevel: 'silent' as const, metafile: true, define: { 'process.env.NODE_ENV': '"production"' } };
    const page = await build({ ...common, entryPoints: [join(project, 'page.mjs')], outfile: join(site, 'page.js') });
    const worker = await build({ ...common, entryPoints: [join(project, 'worker.mjs')], outfile: join(site, 'worker.js') });
    const inputs = [...Object.keys(page.metafile?.inputs ?? {}), ...Object.keys(worker.metafile?.inputs ?? {})];
    expect(inputs.some((i) => i.includes('node_modules/@syncline/client/dist/'))).toBe(true);
    expect(inputs.filter((i) => /\.tsx?$/.test(i))).toEqual([]);
    expect(inputs.filter((i) => i.includes('/packages/'))).toEqual([]);
    const wasm = createRequire(join(project, 'package.json')).resolve('@syncline/client/sqlite3.wasm');
    copyFileSync(wasm, join(site, 'sqlite3.wasm'));
    writeFileSync(join(site, 'index.html'), `<!doctype html><meta charset="utf-8"><div id="root"></div><script type="module" src="./page.js"></script>`);

    await using http = await serveDirectory(site);
    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    try {
      const tab = await browser.newPage();
      await tab.goto(`${http.url}/index.html`);
      await tab.waitForFunction(() => 'installedTest' in globalThis);
      const vfs = await tab.evaluate((a) => (globalThis as unknown as { installedTest: { start(e: string, t: string): Promise<string> } }).installedTest.start(a[0], a[1]), [server.url, server.token('user-1')] as const);
      expect(vfs).toBe('memory');
      await tab.waitForFunction((n) => document.querySelectorAll('#todos li').length === n, expected.length, { timeout: 20_000 });
      const shown = await tab.$$eval('#todos li', (els) => els.map((e) => ({ id: e.getAttribute('data-id') ?? '', list_id: e.getAttribute('data-list') ?? '', description: e.textContent ?? '' })));
      expect(shown.sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual(expected);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
