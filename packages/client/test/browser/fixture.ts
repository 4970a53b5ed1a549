/**
 * The fixture of the Chromium tests: bundles the test pages into a temporary directory, serves
 * them (and the scripted sync protocol) from a {@link ScriptedSyncServer}, and launches Debian's
 * Chromium — for one describe block, torn down after it; {@link useBrowserSyncFixture} adds the
 * real sync API on real Postgres. Fields are set in `beforeAll`; read them inside tests and hooks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, inject } from 'vitest';
import { CHROMIUM, CHROMIUM_FLAGS, startSyncServer, type SyncServerProcess } from '@syncline/test-utils';
import { ScriptedSyncServer } from '../scripted-server.ts';
import { buildBrowserBundle } from './build.ts';

export interface BrowserFixture {
  /** Where the bundle lives (the server's static root). */
  readonly outdir: string;
  readonly server: ScriptedSyncServer;
  readonly browser: Browser;
}

export function useBrowserFixture(tmpPrefix: string): BrowserFixture {
  const fx = {} as { outdir: string; server: ScriptedSyncServer; browser: Browser };
  beforeAll(async () => {
    fx.outdir = mkdtempSync(join(tmpdir(), tmpPrefix));
    await buildBrowserBundle(fx.outdir);
    fx.server = await new ScriptedSyncServer(fx.outdir).start();
    fx.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  }, 60_000);
  afterAll(async () => {
    await fx.browser?.close();
    await fx.server?.close();
    if (fx.outdir) rmSync(fx.outdir, { recursive: true, force: true });
  });
  return fx;
}

export interface BrowserSyncFixture extends BrowserFixture {
  /** The real sync API (child process) over Postgres with `sourceSql` applied and `rules` deployed. */
  readonly sync: SyncServerProcess;
}

/** {@link useBrowserFixture} plus the real sync API on the test Postgres. */
export function useBrowserSyncFixture(tmpPrefix: string, sourceSql: string, rules: string): BrowserSyncFixture {
  const fx = useBrowserFixture(tmpPrefix) as BrowserFixture & { sync: SyncServerProcess };
  beforeAll(async () => {
    fx.sync = await startSyncServer(inject('pgAdminUrl'), sourceSql, rules);
  }, 120_000);
  afterAll(async () => {
    await fx.sync?.[Symbol.asyncDispose]();
  });
  return fx;
}
