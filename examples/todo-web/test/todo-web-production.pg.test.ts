/**
 * The example as it ships: `vite build` with NODE_ENV=production (React's production build) served
 * by the example's own server process (`server/main.ts`, as `npm start`) against a real sync API
 * and Postgres. Two tabs of one user in one Chromium profile share one database: the first leads
 * (database, sync connection, upload loop), the second follows (`<html data-tab-role>`). A todo
 * added in either tab appears in the other and reaches Postgres.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTodoStack, type TodoStack } from './support/todo-stack.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const WAIT = { timeout: 30_000 };
const LIST = randomUUID();

let stack: TodoStack;
let browser: Browser;

async function diagnose(page: Page, logs: string[]): Promise<string> {
  const body = await page.locator('body').innerText({ timeout: 2_000 }).catch((e: unknown) => `(no body: ${String(e)})`);
  const html = await page.evaluate(() => ({ ...document.documentElement.dataset })).catch(() => ({}));
  return `page: ${body}\n<html> data: ${JSON.stringify(html)}\n${logs.join('\n')}\n${stack.syncOutput()}`;
}

async function openTab(page: Page, logs: string[]): Promise<void> {
  page.on('pageerror', (e) => logs.push(`page error: ${e.message}`));
  page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
  await page.goto(`${stack.appUrl}/?user=user-1`);
  try {
    await page.waitForSelector('html[data-tab-role]', WAIT);
    await page.getByRole('button', { name: /^Groceries/ }).click(WAIT);
    await page.locator('[data-testid="list"][data-name="Groceries"][data-selected="true"]').waitFor(WAIT);
    await page.locator('[data-testid="todo"][data-description="milk"]').waitFor(WAIT);
  } catch (e) {
    throw new Error(`tab did not show the synced list: ${(e as Error).message}\n${await diagnose(page, logs)}`, { cause: e });
  }
}

async function addTodo(page: Page, text: string): Promise<void> {
  await page.getByTestId('new-todo').fill(text, WAIT);
  await page.getByTestId('new-todo').press('Enter', WAIT);
}

async function eventually(check: () => Promise<void>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(e as Error).message}\n${stack.syncOutput()}`, { cause: e });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

const dbTodos = async () =>
  (await stack.pool.query<{ description: string }>('SELECT description FROM todos WHERE list_id = $1 ORDER BY description', [LIST])).rows.map((r) => r.description);

describe.skipIf(!existsSync(CHROMIUM))('todo-web production build, two tabs', () => {
  beforeAll(async () => {
    stack = await startTodoStack(inject('pgAdminUrl'), { production: true });
    await stack.pool.query(`INSERT INTO lists (id, owner_id, name) VALUES ($1, 'user-1', 'Groceries')`, [LIST]);
    await stack.pool.query(`INSERT INTO todos (list_id, owner_id, description) VALUES ($1, 'user-1', 'milk')`, [LIST]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.[Symbol.asyncDispose]();
  }, 60_000);

  it('is a production build; a todo added in either tab shows in the other and in Postgres', async () => {
    // React's production build: minified errors, no development-only warnings in the bundle.
    const assets = join(stack.distDir, 'assets');
    const bundle = readdirSync(assets).filter((f) => f.startsWith('index-') && f.endsWith('.js')).map((f) => readFileSync(join(assets, f), 'utf8')).join('\n');
    expect(bundle).toContain('Minified React error');
    expect(bundle).not.toContain('Invalid hook call');

    const context = await browser.newContext();
    const leader = await context.newPage();
    const leaderLogs: string[] = [];
    await openTab(leader, leaderLogs);
    const follower = await context.newPage();
    const followerLogs: string[] = [];
    await openTab(follower, followerLogs);
    expect(await leader.evaluate(() => document.documentElement.dataset['tabRole'])).toBe('leader');
    expect(await follower.evaluate(() => document.documentElement.dataset['tabRole'])).toBe('follower');

    // Written in the follower: it runs on the leader's database, the leader uploads it.
    await addTodo(follower, 'eggs');
    await leader.locator('[data-testid="todo"][data-description="eggs"]').waitFor(WAIT);
    await eventually(async () => expect(await dbTodos()).toEqual(['eggs', 'milk']), 'the follower tab\'s todo in Postgres');
    // And the other way round.
    await addTodo(leader, 'bread');
    await follower.locator('[data-testid="todo"][data-description="bread"]').waitFor(WAIT);
    await eventually(async () => expect(await dbTodos()).toEqual(['bread', 'eggs', 'milk']), 'the leader tab\'s todo in Postgres');
    expect([...leaderLogs, ...followerLogs].filter((l) => l.startsWith('page error'))).toEqual([]);
    await context.close();
  }, 90_000);
});
