import type { Page, TestInfo } from '@playwright/test';

/** Saves a full-page screenshot under the test's output directory (kept as an artifact). */
export async function saveScreenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
}
