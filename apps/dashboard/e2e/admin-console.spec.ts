/**
 * The admin console against the real stack (sync-api with replication on an embedded Postgres, demo
 * data and rules): edit and validate rules, deploy, inspect a user, verify checksums (clean, then
 * after corrupting storage on purpose), see and disconnect a live client, see a fragmented bucket
 * and compact it. Serial: later steps see the version deployed by the first (and compaction never
 * runs next to a verification).
 */
import { expect, test, type Page } from '@playwright/test';
import pg from 'pg';
import { e2eEnv } from './support/env.ts';
import { logIn } from './support/login.ts';
import { saveScreenshot } from './support/screenshot.ts';

test.describe.configure({ mode: 'serial', timeout: 120_000 });

const INVALID = `bucket_definitions:
  user_lists:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FRM todos WHERE list_id = bucket.list_id
`;
const NEXT_RULES = `# Demo rules plus a global bucket of list names.
bucket_definitions:
  user_lists:
    priority: 1
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
  list_names:
    data:
      - SELECT id, name FROM lists
`;

async function goto(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}

async function query<T extends pg.QueryResultRow>(connectionString: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query<T>(sql, params.length > 0 ? params : undefined)).rows;
  } finally {
    await client.end();
  }
}

const storage = <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => query<T>(e2eEnv.storageDatabaseUrl, sql, params);
const source = (sql: string, params: unknown[] = []) => query(e2eEnv.sourceDatabaseUrl, sql, params);

test('sync rules: an error is marked at its line; a valid version deploys and becomes ACTIVE', async ({ page }, testInfo) => {
  await logIn(page);
  await goto(page, 'Sync rules');
  const editor = page.getByLabel('Sync rules YAML');
  await expect(page.getByTestId('validation-status')).toContainText('valid');
  await expect(editor).toHaveValue(/user_lists/);

  await editor.fill(INVALID);
  await expect(page.getByTestId('issue-marker-line-5')).toHaveAttribute('data-level', 'fatal');
  await expect(page.getByTestId('validation-issues')).toContainText('line 5');
  await expect(page.getByTestId('validation-status')).toContainText('1 error');
  await expect(page.getByRole('button', { name: 'Deploy' })).toBeDisabled();
  await saveScreenshot(page, testInfo, 'sync-rules-error');

  await editor.fill(NEXT_RULES);
  await expect(page.getByTestId('validation-status')).toContainText('valid · 2 definitions');
  await expect(page.locator('[data-testid^="issue-marker-line-"]')).toHaveCount(0);
  await page.getByRole('button', { name: 'Preview impact' }).click();
  const impact = page.getByTestId('impact-preview');
  await expect(impact.getByRole('row', { name: /list_names/ })).toContainText('added');
  await expect(impact.getByRole('row', { name: /user_lists/ })).toContainText('unchanged');

  await page.getByLabel('Deploy comment').fill('e2e: add list names');
  await page.getByRole('button', { name: 'Deploy' }).click();
  const result = page.getByTestId('deploy-result');
  await expect(result).toContainText('Deployed as version');
  const version = Number(/version (\d+)/.exec((await result.textContent()) ?? '')?.[1]);
  await expect(page.getByTestId(`version-state-${version}`)).toHaveText('ACTIVE', { timeout: 60_000 });
  await expect(page.getByTestId(`version-row-${version}`)).toContainText('e2e: add list names');
  await expect(page.getByTestId(`version-source-${version}`)).toHaveText('dashboard');

  // Diff the new version against the previous one.
  await page.getByLabel(`Diff from version ${version - 1}`).check();
  await page.getByLabel(`Diff to version ${version}`).check();
  await expect(page.getByTestId('version-diff')).toContainText('list_names:');
  await saveScreenshot(page, testInfo, 'sync-rules-deployed');
});

test("users: a demo user's buckets, a bucket's ops and a row explanation", async ({ page }, testInfo) => {
  await logIn(page);
  await goto(page, 'Users');
  await page.getByLabel('User id').fill('user-1');
  await page.getByRole('button', { name: 'Inspect' }).click();
  const rows = page.getByTestId('user-bucket-row').filter({ hasText: 'user_lists' });
  await expect(rows).toHaveCount(4);
  await expect(rows.first()).toContainText('list-1-1');
  await rows.first().getByRole('button', { name: 'Ops' }).click();
  const ops = page.getByTestId('bucket-ops');
  await expect(ops.getByTestId('op-row')).toHaveCount(11);
  await ops.getByLabel('Filter by row id').fill('todo-1-1-3');
  await expect(ops.getByTestId('op-row')).toHaveCount(1);
  await ops.getByLabel('Op type').selectOption('REMOVE');
  await expect(ops).toContainText('No ops match.');

  await page.getByLabel('Row table').fill('todos');
  await page.getByLabel('Row id', { exact: true }).fill('todo-2-1-1');
  await page.getByRole('button', { name: 'Explain' }).click();
  const explanation = page.getByTestId('row-explanation');
  await expect(explanation).toContainText('Not visible: user-1 does not sync this row.');
  await expect(explanation).toContainText('different-parameters');
  await expect(explanation).toContainText('request.user_id()');
  await expect(page.getByTestId('row-memberships')).toContainText('user_lists["list-2-1"]');

  await page.getByRole('button', { name: 'Mint dev token' }).click();
  await expect(page.getByLabel('Dev token')).toHaveValue(/^ey/);
  await saveScreenshot(page, testInfo, 'users');

  await goto(page, 'Buckets');
  await expect(page.getByRole('cell', { name: /list_names\[\]/ })).toBeVisible();
  await saveScreenshot(page, testInfo, 'buckets');
});

test('verification: no mismatch, then a corrupted bucket checksum is reported', async ({ page }, testInfo) => {
  await logIn(page);
  await goto(page, 'Verification');
  await page.getByRole('button', { name: 'Start verification' }).click();
  await expect(page.getByTestId('verification-summary')).toContainText('No mismatch', { timeout: 60_000 });
  await saveScreenshot(page, testInfo, 'verification-clean');

  const [corrupted] = await storage<{ bucket: string }>(
    `UPDATE syncline.bucket_state SET checksum = (checksum + 1) % 4294967296
      WHERE (version_id, bucket) = (SELECT version_id, bucket FROM syncline.bucket_state
              WHERE version_id = (SELECT max(id) FROM syncline.sync_rules_versions WHERE state = 'ACTIVE') ORDER BY bucket LIMIT 1)
      RETURNING bucket`,
  );
  expect(corrupted).toBeDefined();
  try {
    await page.getByRole('button', { name: 'Start verification' }).click();
    await expect(page.getByTestId('verification-summary')).toContainText('1 checksum mismatch, 0 row mismatches', { timeout: 60_000 });
    await expect(page.getByTestId('mismatch-row')).toHaveCount(1);
    await expect(page.getByTestId('mismatch-row')).toContainText(corrupted!.bucket);
    await saveScreenshot(page, testInfo, 'verification-mismatch');
  } finally {
    await storage(`UPDATE syncline.bucket_state SET checksum = (checksum + 4294967295) % 4294967296 WHERE bucket = '${corrupted!.bucket.replace(/'/g, "''")}'`);
  }
});

test('connections: an open stream is listed, and disconnect ends it', async ({ page, request }, testInfo) => {
  const minted = await request.post(`${e2eEnv.syncApiUrl}/api/auth/dev-token`, { headers: { authorization: `Bearer ${e2eEnv.adminToken}` }, data: { user_id: 'user-3' } });
  expect(minted.ok()).toBe(true);
  const { data } = (await minted.json()) as { data: { token: string } };
  const abort = new AbortController();
  const res = await fetch(`${e2eEnv.syncApiUrl}/sync/stream`, {
    method: 'POST',
    headers: { authorization: `Token ${data.token}`, 'content-type': 'application/json', 'user-agent': 'e2e-client/1.0' },
    body: JSON.stringify({ raw_data: true, client_id: 'e2e-client' }),
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const ended = (async () => {
    for (;;) if ((await reader.read()).done) return true;
  })().catch(() => true);
  try {
    await logIn(page);
    await goto(page, 'Connections');
    await page.getByLabel('Filter by user').fill('user-3');
    const row = page.getByTestId('connection-row').filter({ hasText: 'e2e-client' });
    await expect(row).toHaveCount(1);
    await expect(row).toContainText('e2e-client/1.0');
    await saveScreenshot(page, testInfo, 'connections');
    await row.getByRole('button', { name: 'Disconnect' }).click();
    const closed = await Promise.race([ended, new Promise<false>((r) => setTimeout(() => r(false), 12_000))]);
    expect(closed, 'the stream ended after Disconnect').toBe(true);
    await expect(page.getByTestId('connection-row')).toHaveCount(0);
  } finally {
    abort.abort();
  }
});

test('overview: replication health with lag, counters and sparklines', async ({ page }, testInfo) => {
  await logIn(page);
  const health = page.getByTestId('replication-health');
  await expect(health).toContainText('ACTIVE');
  await expect(health.getByTestId('lag-seconds').first()).toContainText('Lag:');
  // Slot WAL vs the max_slot_wal_keep_size budget (the e2e cluster sets 4 GB): shown, no risk badge.
  await expect(health.getByTestId('wal-retained').first()).toContainText('budget');
  await expect(health.getByTestId('slot-risk')).toHaveCount(0);
  await expect(health.getByTestId('spark-replication')).toBeVisible();
  await saveScreenshot(page, testInfo, 'overview-health');
});

test('storage: a bucket fragmented by updates ranks first; Compact now shrinks its op-log', async ({ page }, testInfo) => {
  // Every row of list-3-4's bucket (the list and its 10 todos) updated 10 times, one transaction per
  // round: the last round supersedes every older op (how many reach the op-log depends on batching).
  const ROUNDS = 10;
  for (let i = 0; i < ROUNDS; i++) {
    await source(`BEGIN; UPDATE lists SET name = name || '.' WHERE id = 'list-3-4'; UPDATE todos SET description = description || '.' WHERE list_id = 'list-3-4'; COMMIT;`);
  }
  // Wait until the last round is replicated (its 11 PUTs are stored) and covered by a checkpoint.
  let bucket = '';
  let opsBefore = 0;
  await expect
    .poll(
      async () => {
        const [row] = await storage<{ bucket: string; op_count: string; live_rows: string; covered: boolean; final: string }>(
          `SELECT s.bucket, s.op_count, s.live_rows, v.last_checkpoint >= s.last_op AS covered,
                  (SELECT count(*) FROM syncline.bucket_data d
                    WHERE d.version_id = s.version_id AND d.bucket = s.bucket AND d.op = 1 AND d.data LIKE $1) AS final
             FROM syncline.bucket_state s JOIN syncline.sync_rules_versions v ON v.id = s.version_id
            WHERE v.id = (SELECT max(id) FROM syncline.sync_rules_versions WHERE state = 'ACTIVE')
              AND s.bucket LIKE '%user_lists%' AND s.bucket LIKE '%list-3-4%'`,
          [`%${'.'.repeat(ROUNDS)}"%`],
        );
        if (!row) return 'no bucket';
        bucket = row.bucket;
        opsBefore = Number(row.op_count);
        return Number(row.final) === 11 && row.covered && opsBefore > Number(row.live_rows) ? 'ready' : `${row.op_count} ops, ${row.final} final rows, covered ${row.covered}`;
      },
      { timeout: 30_000 },
    )
    .toBe('ready');

  await logIn(page);
  await goto(page, 'Storage');
  const byRatio = page.getByTestId('by-ratio');
  const first = byRatio.getByTestId('fragmentation-row').first();
  await expect(first).toHaveAttribute('data-bucket', bucket);
  await expect(first.getByTestId('op-count')).toHaveAttribute('data-value', String(opsBefore));
  expect(Number(await first.getByTestId('ops-per-row').getAttribute('data-value'))).toBeGreaterThan(1);
  await expect(page.getByTestId('total-ops')).not.toHaveText('—');
  await expect(page.getByTestId('by-size').getByTestId('fragmentation-row').first()).toBeVisible();
  await saveScreenshot(page, testInfo, 'storage-fragmented');

  // Select it, then compact the selection.
  await first.getByRole('checkbox', { name: `Select ${bucket}` }).check();
  await expect(page.getByTestId('selected-count')).toHaveText('1 selected');
  await page.getByRole('button', { name: 'Compact now' }).click();
  await expect(page.getByTestId('compaction-result')).toContainText('Compacted 1 bucket of version', { timeout: 60_000 });
  await expect(page.getByTestId('compacted-bucket').filter({ hasText: bucket })).toHaveCount(1);
  const row = byRatio.locator(`[data-testid="fragmentation-row"][data-bucket="${bucket.replace(/["\\]/g, '\\$&')}"]`);
  await expect
    .poll(async () => Number(await row.getByTestId('op-count').getAttribute('data-value')), { message: 'op count of the compacted bucket' })
    .toBeLessThan(opsBefore);
  await expect(page.getByTestId('last-run')).toContainText('last run');
  const [after] = await storage<{ op_count: string }>(
    `SELECT op_count FROM syncline.bucket_state WHERE bucket = $1 AND version_id = (SELECT max(id) FROM syncline.sync_rules_versions WHERE state = 'ACTIVE')`,
    [bucket],
  );
  expect(Number(after!.op_count)).toBeLessThan(opsBefore);
  await saveScreenshot(page, testInfo, 'storage-compacted');

  // Defragment the same bucket: its live rows are re-emitted and the old ones cleared.
  await row.getByRole('button', { name: 'Defragment' }).click();
  await expect(page.getByTestId('defragment-result')).toContainText(`Defragmented ${bucket}: 11 live rows re-emitted`, { timeout: 60_000 });
});
