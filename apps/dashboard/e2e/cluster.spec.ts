/**
 * The Cluster page against three real sync-api processes on one storage database (started by the
 * global setup): `sync-api` (unified: API + active replicator), `sync-api-api` (API only) and
 * `sync-api-replicator` (standby replicator). Nothing is inserted by hand: every row is a process's
 * own heartbeat.
 */
import { expect, test, type Page } from '@playwright/test';
import { e2eEnv } from './support/env.ts';
import { logIn } from './support/login.ts';
import { saveScreenshot } from './support/screenshot.ts';

const NAMES = ['sync-api', 'sync-api-api', 'sync-api-replicator'];

async function openCluster(page: Page): Promise<void> {
  await logIn(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cluster' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Cluster' })).toBeVisible();
}

/** Opens a sync stream on the API-only process; returns its closer. */
async function streamOnApiProcess(userId: string, clientId: string): Promise<() => void> {
  const minted = await fetch(`${e2eEnv.syncApiUrl}/api/auth/dev-token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${e2eEnv.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: userId }),
  });
  expect(minted.ok).toBe(true);
  const { data } = (await minted.json()) as { data: { token: string } };
  const apiUrl = e2eEnv.cluster.find((p) => p.runner === 'api')!.url;
  const abort = new AbortController();
  const res = await fetch(`${apiUrl}/sync/stream`, {
    method: 'POST',
    headers: { authorization: `Token ${data.token}`, 'content-type': 'application/json', 'user-agent': 'e2e-cluster/1.0' },
    body: JSON.stringify({ raw_data: true, client_id: clientId }),
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  void (async () => {
    for (;;) if ((await reader.read()).done) return;
  })().catch(() => {});
  return () => abort.abort();
}

test('cluster: every process with runner, status and figures; the active replicator and its standby; history charts', async ({ page }, testInfo) => {
  test.setTimeout(90_000);
  await openCluster(page);
  const rows = page.getByTestId('process-row');
  await expect(rows).toHaveCount(3);
  for (const name of NAMES) {
    const row = page.locator(`[data-testid="process-row"][data-process="${name}"]`);
    await expect(row).toHaveCount(1);
    await expect(row.getByTestId('process-status')).toHaveText('ready');
    await expect(row).toContainText('0.1.0');
    await expect(row).toContainText(/\d+(\.\d)? (MB|KB)/);
  }
  // The runner cell (second column), exactly: every row's name already contains "api".
  const runnerOf = (name: string) => page.locator(`[data-process="${name}"] td`).nth(1);
  await expect(runnerOf('sync-api')).toHaveText('unified');
  await expect(runnerOf('sync-api-api')).toHaveText('api');
  await expect(runnerOf('sync-api-replicator')).toHaveText('replicator');
  // Both replicating processes wait for the version's lock; whichever got it first is active and
  // the other a standby (the start order does not decide it).
  const roleOf = async (name: string) => {
    const text = (await page.locator(`[data-process="${name}"]`).textContent()) ?? '';
    return /active v/.test(text) ? 'active' : /standby v/.test(text) ? 'standby' : 'none';
  };
  await expect
    .poll(async () => [await roleOf('sync-api'), await roleOf('sync-api-replicator')].sort().join(','), { timeout: 20_000 })
    .toBe('active,standby');
  const active = (await roleOf('sync-api')) === 'active' ? 'sync-api' : 'sync-api-replicator';
  const standby = active === 'sync-api' ? 'sync-api-replicator' : 'sync-api';

  const version = page.getByTestId('version-replicators');
  await expect(version).toHaveCount(1);
  await expect(version).toContainText('ACTIVE');
  // Exact: "sync-api" is a prefix of "sync-api-replicator", so a substring check would pass for either.
  await expect(version.getByTestId('active-replicator')).toHaveText(new RegExp(`^active: ${active} · lag (—|\\d+ ms|\\d+\\.\\d s)$`));
  await expect(version.getByTestId('standby-replicators')).toHaveText(`standby: ${standby}`, { timeout: 20_000 });

  // Processes sample every 10 s: the charts draw a line per process once two samples exist.
  const connections = page.getByTestId('chart-connections');
  await expect(connections.locator('path.recharts-curve')).toHaveCount(3, { timeout: 45_000 });
  await expect(page.getByTestId('chart-memory').locator('path.recharts-curve')).toHaveCount(3);
  await expect(page.getByTestId('chart-cpu').locator('path.recharts-curve')).toHaveCount(3);
  await expect(connections).toContainText('sync-api-replicator');
  await saveScreenshot(page, testInfo, 'cluster');
});

test('connections: each stream shows the process that serves it; filter by process', async ({ page }, testInfo) => {
  test.setTimeout(60_000);
  const close = await streamOnApiProcess('user-5', 'e2e-cluster-client');
  try {
    await openCluster(page);
    // The API process counts the stream at its next heartbeat (5 s) and links to its connections.
    const apiRow = page.locator('[data-process="sync-api-api"]');
    await apiRow.getByRole('link', { name: '1' }).click({ timeout: 20_000 });
    await expect(page.getByRole('heading', { level: 1, name: 'Connections' })).toBeVisible();
    const rows = page.getByTestId('connection-row');
    await expect(rows).toHaveCount(1);
    await expect(rows).toContainText('e2e-cluster-client');
    await expect(rows).toContainText('sync-api-api');
    await saveScreenshot(page, testInfo, 'connections-by-process');

    const filter = page.getByLabel('Filter by process');
    const unifiedId = await filter.locator('option', { hasText: /^sync-api \(/ }).getAttribute('value');
    await filter.selectOption(unifiedId!);
    await expect(page.getByTestId('connection-row').filter({ hasText: 'e2e-cluster-client' })).toHaveCount(0);
    await filter.selectOption('');
    await expect(page.getByTestId('connection-row').filter({ hasText: 'e2e-cluster-client' })).toHaveCount(1);
  } finally {
    close();
  }
});
