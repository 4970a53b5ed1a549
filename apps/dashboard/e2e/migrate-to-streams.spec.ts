/**
 * "Migrate to Sync Streams" on the sync-rules page: the active bucket_definitions YAML → the
 * streams draft's diff and issues → the draft loaded into the editor. Deploys nothing, so it can
 * run next to admin-console.spec.ts (which deploys versions); the active rules are the demo rules
 * or that spec's variant of them, both with `user_lists`.
 */
import { expect, test } from '@playwright/test';
import { logIn } from './support/login.ts';
import { saveScreenshot } from './support/screenshot.ts';

test('sync rules: Migrate to Sync Streams shows the diff and issues, then loads the draft into the editor', async ({ page }, testInfo) => {
  await logIn(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sync rules' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Sync rules' })).toBeVisible();
  const editor = page.getByLabel('Sync rules YAML');
  await expect(editor).toHaveValue(/bucket_definitions:/);

  const card = page.getByTestId('migrate-to-streams');
  await card.getByRole('button', { name: 'Migrate to Sync Streams' }).click();
  await expect(card.getByTestId('migrate-summary')).toContainText('drafted from the active version');
  const diff = card.getByTestId('migrate-diff');
  await expect(diff).toContainText('streams:');
  await expect(diff).toContainText('user_lists_param: SELECT id AS list_id FROM lists WHERE owner_id = auth.user_id()');
  await expect(diff).toContainText('- SELECT * FROM todos WHERE list_id IN user_lists_param');
  await expect(diff).toContainText('- SELECT * FROM todos WHERE list_id = bucket.list_id');
  await expect(card.getByTestId('migrate-issues')).toContainText('Bucket ids change');
  await expect(card.getByTestId('migrate-issues')).not.toContainText('not migrated');
  await saveScreenshot(page, testInfo, 'sync-rules-migrate-to-streams');

  // Nothing was deployed: the editor still holds the active YAML until the draft is loaded.
  await expect(editor).toHaveValue(/bucket_definitions:/);
  await card.getByRole('button', { name: 'Load draft into editor' }).click();
  await expect(editor).toHaveValue(/^config:\n {2}edition: 3\n/m);
  await expect(editor).toHaveValue(/auto_subscribe: true/);
  await expect(editor).not.toHaveValue(/bucket_definitions:/);
  await expect(page.getByText('Loaded from the Sync Streams migration draft.')).toBeVisible();
});
