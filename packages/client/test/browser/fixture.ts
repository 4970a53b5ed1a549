/**
 * The fixture of the Chromium tests that run against the scripted server: bundles the test pages
 * into a temporary directory, serves them (and the scripted sync protocol) from a
 * {@link ScriptedSyncServer}, and launches Debian's Chromium — for one describe block, torn down
 * after it. Its fields are set in `beforeAll`; read them inside tests and hooks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { CHROMIUM, CHROMIUM_FLAGS } from '@syncline/test-utils';
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
