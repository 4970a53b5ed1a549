/**
 * Driving the multi-tab test page (`multi-tab-page.ts`, `window.multiTab`) from Playwright: the
 * tests of several tabs on one database share these.
 */
import type { BrowserContext, Page } from 'playwright-core';

/** Calls `window.multiTab[name](...args)` in the page and returns its (structured-cloned) result. */
export function call<T = unknown>(page: Page, name: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([n, a]) => (globalThis as unknown as { multiTab: Record<string, (...x: unknown[]) => unknown> }).multiTab[n as string]!(...(a as unknown[])), [name, args] as const) as Promise<T>;
}

/** A new tab of `context` on the multi-tab page served at `baseUrl`, once its API is loaded. */
export async function openTab(context: BrowserContext, baseUrl: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${baseUrl}/multi-tab.html`);
  await page.waitForFunction(() => 'multiTab' in globalThis);
  return page;
}
