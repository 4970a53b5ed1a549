import { expect, type Page } from '@playwright/test';
import { e2eEnv } from './env.ts';

export const SESSION_COOKIE = 'syncline_session';

/** Logs in through the form with the run's admin token and waits for the Overview page. */
export async function logIn(page: Page, baseUrl = ''): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('Admin token').fill(e2eEnv.adminToken);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
}
