/**
 * Starts what the browser tests need, on free ports, and returns the teardown that stops it all:
 *  1. the sync API — the real one (apps/sync-api/src/main.ts) once it exists, otherwise a stand-in
 *     that answers the probes (override with E2E_SYNC_API=real|stand-in);
 *  2. the built dashboard (`next start`), building it first when `.next/BUILD_ID` is missing or
 *     older than the sources.
 * A fresh random admin token per run lets tests prove it never reaches the browser.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChildService, waitForHttp, type ChildService } from './support/child-service.ts';
import { freePort } from './support/free-port.ts';
import { startRealSyncApi } from './support/real-sync-api.ts';
import { startStandInSyncApi } from './support/stand-in-sync-api.ts';

const dashboardDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(dashboardDir, '../..');
const logDir = path.join(dashboardDir, 'test-results', 'server-logs');
const nextBin = path.join(repoRoot, 'node_modules/.bin/next');

function newestMtime(entry: string): number {
  if (!existsSync(entry)) return 0;
  const st = statSync(entry);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(entry)) newest = Math.max(newest, newestMtime(path.join(entry, name)));
  return newest;
}

function ensureBuild(): void {
  const buildId = path.join(dashboardDir, '.next', 'BUILD_ID');
  const inputs = ['src', 'next.config.ts', 'postcss.config.mjs', 'package.json'].map((p) => path.join(dashboardDir, p));
  const sourcesChanged = existsSync(buildId) && Math.max(...inputs.map(newestMtime)) > statSync(buildId).mtimeMs;
  if (existsSync(buildId) && !sourcesChanged) return;
  console.log(`[e2e] ${sourcesChanged ? 'sources changed since the last build' : 'no build found'}: running next build…`);
  const started = Date.now();
  const res = spawnSync(nextBin, ['build'], {
    cwd: dashboardDir,
    stdio: 'inherit',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  });
  if (res.status !== 0) throw new Error(`next build failed (exit ${res.status ?? res.signal})`);
  console.log(`[e2e] next build took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function startSyncApi(adminToken: string): Promise<{ url: string; kind: string; storageUrl?: string; sourceUrl?: string; cluster?: Array<{ name: string; runner: string; url: string }>; stop: () => Promise<void> }> {
  const hasRealServer = existsSync(path.join(repoRoot, 'apps/sync-api/src/main.ts'));
  const choice = process.env.E2E_SYNC_API ?? (hasRealServer ? 'real' : 'stand-in');
  if (choice === 'real') {
    const api = await startRealSyncApi({ repoRoot, adminToken, logDir, env: process.env });
    return { ...api, kind: 'real sync-api' };
  }
  const api = await startStandInSyncApi();
  return { ...api, kind: 'stand-in (probes only)' };
}

async function startDashboard(
  name: string,
  syncApiUrl: string,
  adminToken: string,
  stops: Array<() => Promise<void>>,
): Promise<string> {
  const port = await freePort();
  const dashboard: ChildService = startChildService({
    name,
    command: nextBin,
    args: ['start', '-p', String(port), '-H', '127.0.0.1'],
    cwd: dashboardDir,
    logDir,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      SYNC_API_URL: syncApiUrl,
      ADMIN_TOKEN: adminToken,
      DASHBOARD_PORT: String(port),
    },
  });
  stops.push(() => dashboard.stop());
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/login`, dashboard, 60_000);
  return url;
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  const teardown = async () => {
    for (const stop of stops.reverse()) await stop().catch((e: unknown) => console.error('[e2e] teardown:', e));
  };
  try {
    const adminToken = `e2e-admin-${randomBytes(24).toString('hex')}`;
    ensureBuild();

    const syncApi = await startSyncApi(adminToken);
    stops.push(syncApi.stop);

    const dashboardUrl = await startDashboard('dashboard', syncApi.url, adminToken, stops);
    // A second instance pointed at a port nobody listens on, for the "sync API unreachable" state.
    const deadSyncApiUrl = `http://127.0.0.1:${await freePort()}`;
    const unreachableUrl = await startDashboard('dashboard-unreachable', deadSyncApiUrl, adminToken, stops);
    console.log(`[e2e] dashboard ${dashboardUrl} → sync API ${syncApi.url} (${syncApi.kind}); ${unreachableUrl} → ${deadSyncApiUrl} (nothing there)`);

    process.env.E2E_DASHBOARD_URL = dashboardUrl;
    process.env.E2E_SYNC_API_URL = syncApi.url;
    if (syncApi.storageUrl) process.env.E2E_STORAGE_DATABASE_URL = syncApi.storageUrl;
    if (syncApi.sourceUrl) process.env.E2E_SOURCE_DATABASE_URL = syncApi.sourceUrl;
    if (syncApi.cluster) process.env.E2E_CLUSTER = JSON.stringify(syncApi.cluster);
    process.env.E2E_DASHBOARD_UNREACHABLE_URL = unreachableUrl;
    process.env.E2E_DEAD_SYNC_API_URL = deadSyncApiUrl;
    process.env.E2E_ADMIN_TOKEN = adminToken;
    return teardown;
  } catch (e) {
    await teardown();
    throw e;
  }
}
