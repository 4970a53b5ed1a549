/**
 * The example backend's upload endpoint over real HTTP against a real Postgres with the demo
 * schema: JWT check, ownership, validation (nothing stored on a bad batch) and idempotent retries.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@syncline/test-utils';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { ensureUploadsTable } from '../server/apply-upload.ts';
import { createAppServer } from '../server/app-server.ts';
import { keysFromSecret, signDevToken, type TokenKeys } from '../server/auth.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');

let db: TestDatabase;
let pool: pg.Pool;
let server: Server;
let base: string;
let keys: TokenKeys;
const ALICE_LIST = randomUUID();
const BOB_LIST = randomUUID();

beforeAll(async () => {
  db = await createTestDatabase(inject('pgAdminUrl'), 'todo');
  pool = db.pool();
  await pool.query(readFileSync(join(REPO, 'demo/schema.sql'), 'utf8'));
  await ensureUploadsTable(pool);
  await pool.query(`INSERT INTO lists (id, owner_id, name) VALUES ($1, 'alice', 'Alice''s'), ($2, 'bob', 'Bob''s')`, [ALICE_LIST, BOB_LIST]);
  keys = keysFromSecret(randomBytes(32).toString('base64url'), 'test-kid');
  server = createAppServer({ pool, keys, syncUrl: 'http://127.0.0.1:1', distDir: '/nonexistent', devMode: false });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await db?.[Symbol.asyncDispose]();
});

async function upload(body: unknown, token: string | null): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/upload`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const tokenFor = async (user: string) => (await signDevToken(user, keys)).token;
let batchSeq = 1;
const batch = (ops: unknown[], clientId = 'client-a') => ({ client_id: clientId, batch_id: batchSeq++, ops });
const todoCount = async (listId: string) => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM todos WHERE list_id = $1', [listId])).rows[0]!.n);

describe('POST /api/upload', () => {
  it('applies a transaction of the owner and answers 200', async () => {
    const todo = randomUUID();
    const r = await upload(batch([{ op: 'PUT', type: 'todos', id: todo, data: { list_id: ALICE_LIST, description: 'milk', completed: 0 } }]), await tokenFor('alice'));
    expect(r).toEqual({ status: 200, json: { data: { applied: true, ops: 1 } } });
    const row = (await pool.query('SELECT owner_id, description, completed FROM todos WHERE id = $1', [todo])).rows[0];
    expect(row).toEqual({ owner_id: 'alice', description: 'milk', completed: false });
  });

  it('rejects a missing, forged or expired token with 401', async () => {
    const body = batch([{ op: 'PUT', type: 'todos', id: randomUUID(), data: { list_id: ALICE_LIST, description: 'x' } }]);
    expect((await upload(body, null)).status).toBe(401);
    const forged = (await signDevToken('alice', keysFromSecret(randomBytes(32).toString('base64url'), 'test-kid'))).token;
    const r = await upload(body, forged);
    expect(r.status).toBe(401);
    expect(r.json['code']).toBe('UNAUTHENTICATED');
    const expired = (await signDevToken('alice', keys, -120)).token;
    expect((await upload(body, expired)).status).toBe(401);
    expect(await todoCount(ALICE_LIST)).toBe(1);
  });

  it('rejects writes to a list of another user with 403 and applies nothing of the transaction', async () => {
    const own = randomUUID();
    const r = await upload(
      batch([
        { op: 'PUT', type: 'todos', id: own, data: { list_id: ALICE_LIST, description: 'mine' } },
        { op: 'PUT', type: 'todos', id: randomUUID(), data: { list_id: BOB_LIST, description: 'into bob' } },
      ]),
      await tokenFor('alice'),
    );
    expect(r.status).toBe(403);
    expect(r.json).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('another user') });
    expect((await pool.query('SELECT 1 FROM todos WHERE id = $1', [own])).rowCount).toBe(0);
    const rename = await upload(batch([{ op: 'PATCH', type: 'lists', id: BOB_LIST, data: { name: 'mine now' } }]), await tokenFor('alice'));
    expect(rename.status).toBe(403);
    const del = await upload(batch([{ op: 'DELETE', type: 'lists', id: BOB_LIST }]), await tokenFor('alice'));
    expect(del.status).toBe(403);
    expect((await pool.query('SELECT name FROM lists WHERE id = $1', [BOB_LIST])).rows[0]).toEqual({ name: "Bob's" });
  });

  it('rejects a malformed batch with 400 and stores nothing', async () => {
    const token = await tokenFor('alice');
    const good = { op: 'PUT', type: 'todos', id: randomUUID(), data: { list_id: ALICE_LIST, description: 'ok' } };
    const cases: unknown[] = [
      '{not json',
      { client_id: 'c', batch_id: 1 },
      batch([good, { op: 'UPSERT', type: 'todos', id: randomUUID() }]),
      batch([good, { op: 'PUT', type: 'users', id: randomUUID(), data: {} }]),
      batch([good, { op: 'PUT', type: 'todos', id: 'not-a-uuid', data: { list_id: ALICE_LIST, description: 'x' } }]),
      batch([good, { op: 'PATCH', type: 'todos', id: good.id, data: { secret_column: 1 } }]),
    ];
    for (const body of cases) {
      const r = await upload(body, token);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json['code']).toBe('MALFORMED_BATCH');
    }
    const tooLong = await upload(batch([{ ...good, data: { list_id: ALICE_LIST, description: 'x'.repeat(201) } }]), token);
    expect(tooLong).toMatchObject({ status: 422, json: { code: 'INVALID_VALUE' } });
    expect(await todoCount(ALICE_LIST)).toBe(1);
    expect(Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM example_uploads WHERE user_id = 'alice'`)).rows[0]!.n)).toBe(1);
  });

  it('acknowledges a retried batch without applying it twice', async () => {
    const token = await tokenFor('alice');
    const todo = randomUUID();
    const body = batch([
      { op: 'PUT', type: 'todos', id: todo, data: { list_id: ALICE_LIST, description: 'once', priority: 1 } },
      { op: 'PATCH', type: 'todos', id: todo, data: { completed: true } },
    ]);
    expect((await upload(body, token)).json).toEqual({ data: { applied: true, ops: 2 } });
    // Another write lands in between; replaying the old batch must not undo it.
    await pool.query(`UPDATE todos SET description = 'edited later', completed = false WHERE id = $1`, [todo]);
    const [a, b] = await Promise.all([upload(body, token), upload(body, token)]);
    expect([a.json, b.json]).toEqual([{ data: { applied: false, ops: 2 } }, { data: { applied: false, ops: 2 } }]);
    expect((await pool.query('SELECT description, completed FROM todos WHERE id = $1', [todo])).rows).toEqual([{ description: 'edited later', completed: false }]);
    // The same batch id from another user is that user's batch, not a duplicate.
    const bobTodo = randomUUID();
    const bob = await upload({ ...body, ops: [{ op: 'PUT', type: 'todos', id: bobTodo, data: { list_id: BOB_LIST, description: 'bob' } }] }, await tokenFor('bob'));
    expect(bob.json).toEqual({ data: { applied: true, ops: 1 } });
  });

  it('deletes by id, and a repeated delete of a gone row is a no-op', async () => {
    const token = await tokenFor('alice');
    const todo = randomUUID();
    await upload(batch([{ op: 'PUT', type: 'todos', id: todo, data: { list_id: ALICE_LIST, description: 'temp' } }]), token);
    expect((await upload(batch([{ op: 'DELETE', type: 'todos', id: todo }]), token)).status).toBe(200);
    expect((await upload(batch([{ op: 'DELETE', type: 'todos', id: todo }]), token)).status).toBe(200);
    expect((await pool.query('SELECT 1 FROM todos WHERE id = $1', [todo])).rowCount).toBe(0);
  });
});
