import { expect, test } from '@playwright/test';
import { e2eEnv } from './support/env.ts';
import { logIn, SESSION_COOKIE } from './support/login.ts';
import { saveScreenshot } from './support/screenshot.ts';

test.describe('dashboard access', () => {
  test('sends a visitor without a session to the login page', async ({ page }) => {
    await page.goto('/users');
    await expect(page).toHaveURL(/\/login\?next=%2Fusers$/);
    await expect(page.getByLabel('Admin token')).toBeVisible();
  });

  test('rejects a wrong admin token with a clear message', async ({ page, context }) => {
    await page.goto('/login');
    await page.getByLabel('Admin token').fill('definitely-not-the-admin-token');
    await page.getByRole('button', { name: 'Log in' }).click();

    // (Next's route announcer is an empty role=alert too, hence the filter.)
    await expect(page.getByRole('alert').filter({ hasText: 'Invalid admin token' })).toBeVisible();
    await expect(page).toHaveURL(/\/login$/);
    expect((await context.cookies()).find((c) => c.name === SESSION_COOKIE)).toBeUndefined();
  });

  test('logs in with the right token and shows the sync API as live on Overview', async ({ page }, testInfo) => {
    await logIn(page);
    await expect(page).toHaveURL(/\/$/);
    await expect(page.getByTestId('liveness-status')).toHaveText('live');
    await expect(page.getByTestId('readiness-status')).toHaveText('ready');
    await expect(page.getByTestId('sync-api-unreachable')).toHaveCount(0);
    await saveScreenshot(page, testInfo, 'overview');
  });

  test('says plainly when the sync API is unreachable, naming its URL', async ({ page }, testInfo) => {
    await logIn(page, e2eEnv.unreachableDashboardUrl);
    await expect(page.getByTestId('sync-api-unreachable')).toContainText(`Sync API unreachable at ${e2eEnv.deadSyncApiUrl}`);
    await expect(page.getByTestId('liveness-status')).toHaveText('unreachable');
    await saveScreenshot(page, testInfo, 'overview-unreachable');
  });

  test('returns to the page that was asked for after logging in', async ({ page }) => {
    await page.goto('/connections');
    await page.getByLabel('Admin token').fill(e2eEnv.adminToken);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page).toHaveURL(/\/connections$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Connections' })).toBeVisible();
  });

  test('keeps the session cookie httpOnly and the admin token out of every page, script and payload', async ({ page, context }) => {
    const token = e2eEnv.adminToken;
    const bodies: Array<{ url: string; text: string }> = [];
    page.on('response', (res) => {
      void res
        .text()
        .then((text) => bodies.push({ url: res.url(), text }))
        .catch(() => {}); // redirects and aborted requests have no body
    });

    await logIn(page);
    // Client-side navigation through every section fetches their RSC payloads too.
    for (const name of ['Sync rules', 'Users', 'Buckets', 'Verification', 'Connections', 'Overview']) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
      await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
    }

    const session = (await context.cookies()).find((c) => c.name === SESSION_COOKIE);
    expect(session, 'session cookie is set').toBeDefined();
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    expect(session?.value).not.toContain(token);
    expect(await page.evaluate(() => document.cookie)).not.toContain(SESSION_COOKIE);

    // Every script the page loaded, fetched again to be sure none was missed.
    const scriptUrls = await page.locator('script[src]').evaluateAll((els) => els.map((el) => (el as HTMLScriptElement).src));
    expect(scriptUrls.length).toBeGreaterThan(0);
    for (const url of scriptUrls) {
      const res = await page.request.get(url);
      bodies.push({ url, text: await res.text() });
    }
    bodies.push({ url: 'page.content()', text: await page.content() });

    const leaks = bodies.filter((b) => b.text.includes(token)).map((b) => b.url);
    expect(leaks).toEqual([]);
    expect(bodies.length).toBeGreaterThan(scriptUrls.length);
  });

  test('logs out, and the old session cookie no longer works', async ({ page, context }) => {
    await logIn(page);
    const before = (await context.cookies()).find((c) => c.name === SESSION_COOKIE);
    expect(before).toBeDefined();

    await page.getByRole('button', { name: 'Log out' }).click();
    await expect(page).toHaveURL(/\/login$/);
    expect((await context.cookies()).find((c) => c.name === SESSION_COOKIE)).toBeUndefined();

    await page.goto('/');
    await expect(page).toHaveURL(/\/login$/);

    // Replaying the logged-out cookie is refused too.
    if (before) await context.addCookies([before]);
    await page.goto('/buckets');
    await expect(page).toHaveURL(/\/login\?next=%2Fbuckets$/);
  });

  test('the tRPC proxy refuses calls without a session', async ({ request }) => {
    const res = await request.get('/api/trpc/health.check');
    expect(res.status()).toBe(401);
    expect(await res.text()).not.toContain(e2eEnv.adminToken);
  });
});
