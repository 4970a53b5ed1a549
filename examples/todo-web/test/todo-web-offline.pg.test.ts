/**
 * The example app end to end in headless Chromium: two users in two browser contexts against the
 * real sync API, the example backend and Postgres. One user goes offline, both edit, the offline
 * one reloads (the page comes from the service worker, data and upload queue from OPFS), both come
 * back; the UIs and Postgres agree. A write the backend rejects shows in the error banner and is
 * rolled back locally by the next checkpoint.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTodoStack, type TodoStack } from './support/todo-stack.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const WAIT = { timeout: 30_000 };

let stack: TodoStack;
let browser: Browser;
const GROCERIES = randomUUID();
const CHORES = randomUUID();

/** What the lists panel must show for a user, computed from Postgres. */
async function expectedLists(userId: string): Promise<string[]> {
  const { rows } = await stack.pool.query<{ name: string; open: string; done: string }>(
    `SELECT l.name, count(t.id) FILTER (WHERE NOT t.completed) AS open, count(t.id) FILTER (WHERE t.completed) AS done
       FROM lists l LEFT JOIN todos t ON t.list_id = l.id WHERE l.owner_id = $1 GROUP BY l.id, l.name ORDER BY l.name`,
    [userId],
  );
  return rows.map((r) => `${r.name} (${r.open} open, ${r.done} done)`);
}

async function shownLists(page: Page): Promise<string[]> {
  const texts = await page.getByTestId('list').locator('button').first().page().getByTestId('list').evaluateAll((els) => els.map((e) => e.querySelector('button')?.textContent ?? ''));
  return texts.map((t) => t.replace(/\s+/g, ' ').trim()).sort();
}

async function shownTodos(page: Page): Promise<string[]> {
  return (await page.getByTestId('todo').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-description')}:${e.getAttribute('data-completed')}`))).sort();
}

async function dbTodos(listId: string): Promise<string[]> {
  const { rows } = await stack.pool.query<{ description: string; completed: boolean }>('SELECT description, completed FROM todos WHERE list_id = $1', [listId]);
  return rows.map((r) => `${r.description}:${r.completed}`).sort();
}

async function openApp(context: BrowserContext, userId: string): Promise<Page> {
  const page = await context.newPage();
  const logs: string[] = [];
  page.on('pageerror', (e) => logs.push(`page error: ${e.message}`));
  page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
  await page.goto(`${stack.appUrl}/?user=${userId}`);
  try {
    await page.waitForSelector('html[data-offline-ready="true"]', WAIT);
    await page.waitForSelector('[data-testid="list"]', WAIT);
  } catch (e) {
    throw new Error(`${userId}'s app did not show lists: ${(e as Error).message}\npage: ${await page.locator('body').innerText()}\n${logs.join('\n')}\nsync-api:\n${stack.syncOutput()}`, { cause: e });
  }
  return page;
}

async function addTodo(page: Page, text: string): Promise<void> {
  await page.getByTestId('new-todo').fill(text);
  await page.getByTestId('new-todo').press('Enter');
  await page.locator(`[data-testid="todo"][data-description="${text}"]`).waitFor(WAIT);
}

/** The checkbox is controlled by the live query: click, then wait for the re-rendered row. */
async function toggleTodo(page: Page, text: string, completed: boolean): Promise<void> {
  await page.getByLabel(`complete ${text}`).click();
  await page.locator(`[data-testid="todo"][data-description="${text}"][data-completed="${completed}"]`).waitFor(WAIT);
}

async function eventually(check: () => Promise<void>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(e as Error).message}\nsync-api output:\n${stack.syncOutput()}`, { cause: e });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe.skipIf(!existsSync(CHROMIUM))('todo-web example, two users, one offline', () => {
  beforeAll(async () => {
    stack = await startTodoStack(inject('pgAdminUrl'));
    await stack.pool.query(`INSERT INTO lists (id, owner_id, name) VALUES ($1, 'user-1', 'Groceries'), ($2, 'user-2', 'Chores')`, [GROCERIES, CHORES]);
    await stack.pool.query(
      `INSERT INTO todos (list_id, owner_id, description) VALUES ($1, 'user-1', 'milk'), ($1, 'user-1', 'apples'), ($2, 'user-2', 'dishes')`,
      [GROCERIES, CHORES],
    );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.[Symbol.asyncDispose]();
  }, 60_000);

  it('converges after offline edits and an offline reload; a rejected write shows in the UI', async () => {
    const ctxA = await browser.newContext();
    const ctxB = await browser.newContext();
    const a = await openApp(ctxA, 'user-1');
    const b = await openApp(ctxB, 'user-2');
    expect(await a.evaluate(() => document.documentElement.dataset['vfs'])).toBe('opfs-sahpool');
    // Each user sees only their own lists (the demo's Sync Streams).
    expect(await shownLists(a)).toEqual(await expectedLists('user-1'));
    expect(await shownLists(b)).toEqual(await expectedLists('user-2'));

    // User 1 goes offline and edits.
    await ctxA.setOffline(true);
    await a.locator('[data-testid="sync-status"][data-state="offline"]').waitFor(WAIT);
    await a.getByRole('button', { name: /^Groceries/ }).click();
    await addTodo(a, 'eggs');
    await toggleTodo(a, 'milk', true);
    await a.getByTestId('new-list').fill('Hardware');
    await a.getByTestId('new-list').press('Enter');
    await addTodo(a, 'screws');

    // User 2 edits online; their writes reach Postgres.
    await b.getByRole('button', { name: /^Chores/ }).click();
    await addTodo(b, 'vacuum');
    await toggleTodo(b, 'dishes', true);
    await eventually(async () => expect(await dbTodos(CHORES)).toEqual(['dishes:true', 'vacuum:false']), 'user-2 upload');
    expect(await dbTodos(GROCERIES)).toEqual(['apples:false', 'milk:false']);

    // User 1 reloads while offline: the shell comes from the service worker, data and queue from OPFS.
    await a.reload();
    await a.locator('[data-testid="list"][data-name="Hardware"]').waitFor(WAIT);
    expect(await a.evaluate(() => document.documentElement.dataset['vfs'])).toBe('opfs-sahpool');
    await a.getByRole('button', { name: /^Groceries/ }).click();
    expect(await shownTodos(a)).toEqual(['apples:false', 'eggs:false', 'milk:true']);
    await addTodo(a, 'bread');
    expect(await dbTodos(GROCERIES)).toEqual(['apples:false', 'milk:false']);

    // A write the backend rejects (description over 200 characters) surfaces, and is rolled back.
    const tooLong = `a todo that is far too long ${'x'.repeat(200)}`;
    await addTodo(b, tooLong);
    await b.getByTestId('error-banner').waitFor(WAIT);
    expect(await b.getByTestId('error-banner').textContent()).toContain('INVALID_VALUE');
    await eventually(async () => expect(await shownTodos(b)).toEqual(['dishes:true', 'vacuum:false']), 'rejected todo rolled back in the UI');

    // User 1 comes back online: the queue uploads in order, both UIs and Postgres agree.
    await ctxA.setOffline(false);
    await eventually(async () => expect(await dbTodos(GROCERIES)).toEqual(['apples:false', 'bread:false', 'eggs:false', 'milk:true']), 'user-1 offline queue uploaded', 45_000);
    await eventually(async () => expect(await a.getByTestId('sync-status').getAttribute('data-state')).toBe('online'), 'user-1 back online');
    await eventually(async () => expect(await shownLists(a)).toEqual(await expectedLists('user-1')), 'user-1 lists agree with Postgres');
    await eventually(async () => expect(await shownTodos(a)).toEqual(await dbTodos(GROCERIES)), 'user-1 todos agree with Postgres');
    await eventually(async () => expect(await shownLists(b)).toEqual(await expectedLists('user-2')), 'user-2 lists agree with Postgres');
    expect(await shownTodos(b)).toEqual(await dbTodos(CHORES));
    expect(await expectedLists('user-1')).toEqual(['Groceries (3 open, 1 done)', 'Hardware (1 open, 0 done)']);
    expect((await stack.pool.query(`SELECT count(*)::int AS n FROM todos WHERE description LIKE 'a todo that is far too long%'`)).rows[0]).toEqual({ n: 0 });
    // No write of user 1 was rejected.
    expect(await a.getByTestId('error-banner').count()).toBe(0);

    await ctxA.close();
    await ctxB.close();
  }, 150_000);
});
