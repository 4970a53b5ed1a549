/**
 * The example app end to end in headless Chromium: two users in two browser contexts against the
 * real sync API, the example backend and Postgres. One user goes offline, both edit, the offline
 * one reloads (the page comes from the service worker, data and upload queue from OPFS), both come
 * back; the UIs and Postgres agree and both upload queues are empty. A write the backend rejects
 * shows in the error banner, leaves the upload queue, and is rolled back locally by the next
 * checkpoint. The app is the Vite build; under vitest that is React's development build, so
 * StrictMode mounts every effect twice (see support/todo-stack.ts).
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
  const texts = await page.getByTestId('list').evaluateAll((els) => els.map((e) => e.querySelector('button')?.textContent ?? ''));
  return texts.map((t) => t.replace(/\s+/g, ' ').trim()).sort();
}

async function shownTodos(page: Page): Promise<string[]> {
  return (await page.getByTestId('todo').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-description')}:${e.getAttribute('data-completed')}`))).sort();
}

async function dbTodos(listId: string): Promise<string[]> {
  const { rows } = await stack.pool.query<{ description: string; completed: boolean }>('SELECT description, completed FROM todos WHERE list_id = $1', [listId]);
  return rows.map((r) => `${r.description}:${r.completed}`).sort();
}

const pageLogs = new WeakMap<Page, string[]>();

/** Page text, console output and the sync API's output, for a failure message. */
async function diagnose(page: Page): Promise<string> {
  const body = await page.locator('body').innerText({ timeout: 2_000 }).catch((e: unknown) => `(no body: ${String(e)})`);
  const html = await page.evaluate(() => ({ ...document.documentElement.dataset })).catch(() => ({}));
  return `page: ${body}\n<html> data: ${JSON.stringify(html)}\n${(pageLogs.get(page) ?? []).join('\n')}\nsync-api:\n${stack.syncOutput()}`;
}

/** Runs one UI step; a failure carries the page text, its console and the sync API's output. */
async function step(page: Page, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}\n${await diagnose(page)}`, { cause: e });
  }
}

async function waitVisible(page: Page, selector: string, what: string): Promise<void> {
  await step(page, what, () => page.locator(selector).waitFor(WAIT));
}

async function openApp(context: BrowserContext, userId: string): Promise<Page> {
  const page = await context.newPage();
  const logs: string[] = [];
  pageLogs.set(page, logs);
  page.on('pageerror', (e) => logs.push(`page error: ${e.message}`));
  page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) logs.push(`navigated: ${f.url()}`);
  });
  // A timeline for failure messages: every change of the lists, the sync badge and the root text.
  await page.addInitScript(() => {
    const t0 = performance.now();
    let last = '';
    const snap = () => {
      const lists = [...document.querySelectorAll('[data-testid="list"]')].map((e) => e.getAttribute('data-name')).join(',');
      const state = document.querySelector('[data-testid="sync-status"]')?.getAttribute('data-state') ?? '-';
      const root = document.getElementById('root')?.textContent?.slice(0, 40) ?? '';
      const now = `lists=[${lists}] state=${state} root=${root}`;
      if (now !== last) console.info(`[timeline ${Math.round(performance.now() - t0)}ms] ${now}`);
      last = now;
    };
    new MutationObserver(snap).observe(document, { subtree: true, childList: true, attributes: true });
  });
  await page.goto(`${stack.appUrl}/?user=${userId}`);
  await step(page, `${userId}'s app did not show lists`, async () => {
    await page.waitForSelector('html[data-offline-ready="true"]', WAIT);
    await page.waitForSelector('[data-testid="list"]', WAIT);
  });
  return page;
}

async function addTodo(page: Page, text: string): Promise<void> {
  await step(page, `adding todo ${text.slice(0, 40)}`, async () => {
    await page.getByTestId('new-todo').fill(text, WAIT);
    await page.getByTestId('new-todo').press('Enter', WAIT);
    await page.locator(`[data-testid="todo"][data-description="${text}"]`).waitFor(WAIT);
  });
}

/** Clicks a list and waits until the app shows it as selected and its todos have been read. */
async function selectList(page: Page, name: string): Promise<void> {
  await step(page, `selecting list ${name}`, async () => {
    await page.getByRole('button', { name: new RegExp(`^${name}`) }).click(WAIT);
    await page.locator(`[data-testid="list"][data-name="${name}"][data-selected="true"]`).waitFor(WAIT);
    await page.locator('[data-testid="todos-panel"][data-loading="false"]').waitFor(WAIT);
  });
}

/**
 * Adds a list. The app selects the new list once its local insert committed; typing a todo before
 * that would add it to the previously selected list, so wait for the selection.
 */
async function addList(page: Page, name: string): Promise<void> {
  await step(page, `adding list ${name}`, async () => {
    await page.getByTestId('new-list').fill(name, WAIT);
    await page.getByTestId('new-list').press('Enter', WAIT);
    await page.locator(`[data-testid="list"][data-name="${name}"][data-selected="true"]`).waitFor(WAIT);
  });
}

/** The count of local writes not uploaded yet, as the app shows it. */
async function pendingUploads(page: Page): Promise<number> {
  return Number(await page.getByTestId('pending-uploads').getAttribute('data-count', { timeout: 5_000 }));
}

/** The checkbox is controlled by the live query: click, then wait for the re-rendered row. */
async function toggleTodo(page: Page, text: string, completed: boolean): Promise<void> {
  await step(page, `toggling ${text}`, async () => {
    await page.getByLabel(`complete ${text}`).click(WAIT);
    await page.locator(`[data-testid="todo"][data-description="${text}"][data-completed="${completed}"]`).waitFor(WAIT);
  });
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
    await step(a, 'user-1 lists', async () => expect(await shownLists(a)).toEqual(await expectedLists('user-1')));
    await step(b, 'user-2 lists', async () => expect(await shownLists(b)).toEqual(await expectedLists('user-2')));

    // User 1 goes offline and edits.
    await ctxA.setOffline(true);
    await a.locator('[data-testid="sync-status"][data-state="offline"]').waitFor(WAIT);
    await selectList(a, 'Groceries');
    await addTodo(a, 'eggs');
    await toggleTodo(a, 'milk', true);
    await addList(a, 'Hardware');
    await addTodo(a, 'screws');
    // Four local writes wait in the upload queue: eggs, milk's completion, the list, screws.
    await eventually(async () => expect(await pendingUploads(a)).toBe(4), 'user-1 queued writes');

    // User 2 edits online; their writes reach Postgres.
    await selectList(b, 'Chores');
    await addTodo(b, 'vacuum');
    await toggleTodo(b, 'dishes', true);
    await eventually(async () => expect(await dbTodos(CHORES)).toEqual(['dishes:true', 'vacuum:false']), 'user-2 upload');
    expect(await dbTodos(GROCERIES)).toEqual(['apples:false', 'milk:false']);

    // User 1 reloads while offline: the shell comes from the service worker, data and queue from OPFS.
    await a.reload();
    await waitVisible(a, '[data-testid="list"][data-name="Hardware"]', 'after the offline reload');
    expect(await a.evaluate(() => document.documentElement.dataset['vfs'])).toBe('opfs-sahpool');
    expect(await pendingUploads(a)).toBe(4);
    await selectList(a, 'Hardware');
    expect(await shownTodos(a)).toEqual(['screws:false']);
    await selectList(a, 'Groceries');
    expect(await shownTodos(a)).toEqual(['apples:false', 'eggs:false', 'milk:true']);
    await addTodo(a, 'bread');
    await eventually(async () => expect(await pendingUploads(a)).toBe(5), 'user-1 queued writes after the reload');
    expect(await dbTodos(GROCERIES)).toEqual(['apples:false', 'milk:false']);

    // A write the backend rejects (description over 200 characters) surfaces, and is rolled back.
    const tooLong = `a todo that is far too long ${'x'.repeat(200)}`;
    await addTodo(b, tooLong);
    await b.getByTestId('error-banner').waitFor(WAIT);
    expect(await b.getByTestId('error-banner').textContent()).toContain('INVALID_VALUE');
    await eventually(async () => expect(await shownTodos(b)).toEqual(['dishes:true', 'vacuum:false']), 'rejected todo rolled back in the UI');
    // Dropped from the upload queue (not retried forever), and the banner stays until dismissed.
    await eventually(async () => expect(await pendingUploads(b)).toBe(0), 'rejected write removed from the queue');
    expect(await b.getByTestId('error-banner').count()).toBe(1);

    // User 1 comes back online: the queue uploads in order, both UIs and Postgres agree.
    await ctxA.setOffline(false);
    await eventually(async () => expect(await dbTodos(GROCERIES)).toEqual(['apples:false', 'bread:false', 'eggs:false', 'milk:true']), 'user-1 offline queue uploaded', 45_000);
    await eventually(async () => expect(await a.getByTestId('sync-status').getAttribute('data-state')).toBe('online'), 'user-1 back online');
    await eventually(async () => expect(await shownLists(a)).toEqual(await expectedLists('user-1')), 'user-1 lists agree with Postgres');
    await eventually(async () => expect(await shownTodos(a)).toEqual(await dbTodos(GROCERIES)), 'user-1 todos agree with Postgres');
    await eventually(async () => expect(await pendingUploads(a)).toBe(0), 'user-1 upload queue drained');
    const hardware = await stack.pool.query<{ id: string }>(`SELECT id FROM lists WHERE owner_id = 'user-1' AND name = 'Hardware'`);
    expect(hardware.rows).toHaveLength(1);
    await selectList(a, 'Hardware');
    await eventually(async () => expect(await shownTodos(a)).toEqual(await dbTodos(hardware.rows[0]!.id)), 'user-1 Hardware todos agree with Postgres');
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
