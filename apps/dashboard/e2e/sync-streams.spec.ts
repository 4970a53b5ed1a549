/**
 * Sync Streams in the admin console against the real stack: the rules editor highlights and
 * validates edition-3 YAML (diagnostics at their line), the impact preview counts buckets and rows
 * per stream for sample users with subscriptions, and the user inspection takes a list of
 * subscriptions. Nothing here deploys (admin-console.spec.ts owns the deployed versions), so these
 * tests run next to it; they only assume the demo's `user_lists` definition stays deployed.
 * Tests named "edition 3" need the streams compiler.
 */
import { expect, test, type Page } from '@playwright/test';
import { logIn } from './support/login.ts';
import { saveScreenshot } from './support/screenshot.ts';

test.describe.configure({ timeout: 60_000 });

const DEMO = `bucket_definitions:
  user_lists:
    priority: 1
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;
const STREAMS = `config:
  edition: 3
streams:
  my_lists:
    auto_subscribe: true
    priority: 1
    query: SELECT * FROM lists WHERE owner_id = auth.user_id()
  list_todos:
    accept_potentially_dangerous_queries: true
    query: SELECT * FROM todos WHERE list_id = subscription.parameter('list_id')
  owned_todos:
    query: SELECT * FROM todos WHERE list_id IN (SELECT id FROM lists WHERE owner_id = auth.user_id())
`;

async function goto(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}

async function openRules(page: Page, yaml: string): Promise<void> {
  await logIn(page);
  await goto(page, 'Sync rules');
  const editor = page.getByLabel('Sync rules YAML');
  await expect(page.getByTestId('validation-status')).not.toContainText('loading');
  await editor.fill(yaml);
}

test('the editor highlights stream keys and auth / subscription / connection functions', async ({ page }) => {
  await openRules(page, `${STREAMS}  by_param:\n    query: SELECT * FROM lists WHERE id = connection.parameter('list')\n`);
  const highlighted = page.locator('pre');
  await expect(highlighted.locator('[data-hl="stream-key"]', { hasText: 'streams' })).toHaveCount(1);
  await expect(highlighted.locator('[data-hl="stream-key"]', { hasText: 'auto_subscribe' })).toHaveCount(1);
  await expect(highlighted.locator('[data-hl="stream-key"]', { hasText: /^query$/ })).toHaveCount(4);
  await expect(highlighted.locator('[data-hl="boolean"]')).toHaveText(['true', 'true']);
  await expect(highlighted.locator('[data-hl="request-fn"]')).toHaveText(['auth.user_id()', "subscription.parameter('list_id')", 'auth.user_id()', "connection.parameter('list')"]);
  // Stream names are plain keys, not stream keywords.
  await expect(highlighted.locator('[data-hl="key"]', { hasText: 'list_todos' })).toHaveCount(1);
});

test('edition 3: the editor validates streams and marks a stream error at its line', async ({ page }, testInfo) => {
  await openRules(page, STREAMS);
  await expect(page.getByTestId('validation-status')).toHaveText(/^valid ·/);
  await expect(page.getByTestId('validation-status')).toContainText('3 streams (edition 3)');
  await expect(page.locator('[data-testid^="issue-marker-line-"]')).toHaveCount(0);

  await page.getByLabel('Sync rules YAML').fill(STREAMS.replace('    priority: 1\n', '    priority: 4\n'));
  await expect(page.getByTestId('issue-marker-line-6')).toHaveAttribute('data-level', 'fatal');
  await expect(page.getByTestId('validation-issues')).toContainText('line 6, column');
  await expect(page.getByTestId('validation-issues')).toContainText(/priority/i);
  await expect(page.getByRole('button', { name: 'Deploy' })).toBeDisabled();
  await saveScreenshot(page, testInfo, 'streams-editor-error');
});

async function addSubscription(page: Page, n: number, stream: string, parameters: string, scope = page.locator('body')): Promise<void> {
  await scope.getByRole('button', { name: 'Add subscription' }).click();
  await page.getByLabel(`Subscription ${n} stream`).fill(stream);
  await page.getByLabel(`Subscription ${n} parameters`).fill(parameters);
}

test('the impact preview counts buckets and rows per stream for a sample user', async ({ page }, testInfo) => {
  await openRules(page, DEMO);
  await expect(page.getByTestId('validation-status')).toHaveText(/^valid ·/);
  const samples = page.getByTestId('impact-samples');
  await samples.locator('summary').click();
  await page.getByLabel('Sample user ids').fill('user-1, user-2');
  await addSubscription(page, 1, 'no_such_stream', '{"x": 1}', samples);
  await page.getByRole('button', { name: 'Preview impact' }).click();
  const users = page.getByTestId('impact-users');
  // user-1 owns 4 lists with 10 todos each: 4 buckets, 4 + 40 rows, in active and candidate.
  const row = users.getByTestId('impact-user-stream').filter({ hasText: 'user-1' }).filter({ hasText: 'user_lists' });
  await expect(row).toContainText('default');
  await expect(row).toContainText('4 → 4');
  await expect(row).toContainText('44 → 44');
  // (admin-console.spec.ts may have deployed list_names meanwhile: it shows as an active-only stream.)
  await expect(users.getByTestId('impact-user-stream').filter({ hasText: 'user-2' }).filter({ hasText: 'user_lists' })).toContainText('44 → 44');
  await expect(users).toContainText('unknown stream (ignored');
  await saveScreenshot(page, testInfo, 'impact-per-stream');
});

test('edition 3: the impact preview counts a subscription stream for a sample user', async ({ page }, testInfo) => {
  await openRules(page, STREAMS);
  await expect(page.getByTestId('validation-status')).toHaveText(/^valid ·/);
  const samples = page.getByTestId('impact-samples');
  await samples.locator('summary').click();
  await page.getByLabel('Sample user ids').fill('user-1');
  await addSubscription(page, 1, 'list_todos', '{"list_id": "list-2-1"}', samples);
  await page.getByRole('button', { name: 'Preview impact' }).click();
  const streams = page.getByTestId('impact-users').getByTestId('impact-user-stream');
  await expect(streams.filter({ hasText: 'list_todos' })).toContainText('sub 0');
  await expect(streams.filter({ hasText: 'list_todos' })).toContainText('→ 1');
  await expect(streams.filter({ hasText: 'list_todos' })).toContainText('→ 10');
  await expect(streams.filter({ hasText: 'my_lists' })).toContainText('→ 4');
  await expect(streams.filter({ hasText: 'owned_todos' })).toHaveCount(0);
  // The totals table (per definition / stream) names the kind; the per-user table below repeats stream names.
  const row = page.getByTestId('impact-preview').getByRole('row').filter({ has: page.getByRole('cell', { name: 'list_todos', exact: true }) }).filter({ hasText: 'stream ·' });
  await expect(row).toContainText('stream · on demand');
  await saveScreenshot(page, testInfo, 'impact-edition3');
});

test('user inspection with a subscription: reasons per bucket, per-subscription results, include_defaults', async ({ page }, testInfo) => {
  await logIn(page);
  await goto(page, 'Users');
  await page.getByLabel('User id').fill('user-1');
  await addSubscription(page, 1, 'no_such_stream', '{"list_id": "list-1-1"}');
  await page.getByLabel('Subscription 1 priority').selectOption('0');
  await page.getByRole('button', { name: 'Inspect' }).click();

  const buckets = page.getByTestId('user-bucket-row').filter({ hasText: 'user_lists' });
  await expect(buckets).toHaveCount(4);
  await expect(buckets.first()).toContainText('default');
  const subs = page.getByTestId('user-subscriptions').getByTestId('subscription-row');
  await expect(subs.filter({ hasText: 'sub 0' })).toContainText('no_such_stream');
  await expect(subs.filter({ hasText: 'sub 0' })).toContainText('unknown stream (ignored)');
  await expect(subs.filter({ hasText: 'sub 0' })).toContainText('override 0');
  await expect(subs.filter({ hasText: 'user_lists' })).toContainText('list-1-1');
  // The rows behind the parameter lookup (the JOIN side): user-1's lists.
  await expect(page.getByTestId('user-buckets')).toContainText('from lists list-1-1, lists list-1-2');
  await saveScreenshot(page, testInfo, 'user-subscriptions');

  // A bad parameters object is refused in the form, before any request.
  await page.getByLabel('Subscription 1 parameters').fill('[1, 2]');
  await page.getByRole('button', { name: 'Inspect' }).click();
  await expect(page.getByText('Parameters of subscription 1 must be a JSON object.')).toBeVisible();

  await page.getByLabel('Subscription 1 parameters').fill('');
  await page.getByLabel('Include default streams').uncheck();
  await page.getByRole('button', { name: 'Inspect' }).click();
  await expect(page.getByTestId('user-buckets')).toContainText('This user gets no buckets.');

  // Why (not) this row: the default stream is dropped, so the row is not subscribed.
  await page.getByLabel('Row table').fill('todos');
  await page.getByLabel('Row id', { exact: true }).fill('todo-1-1-1');
  await page.getByRole('button', { name: 'Explain' }).click();
  await expect(page.getByTestId('row-verdict-user_lists')).toContainText('not-subscribed');
});
