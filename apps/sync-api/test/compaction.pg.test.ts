import { describe, expect, inject, it } from 'vitest';
import { addChecksums, type SyncLine } from '@syncline/protocol';
import { startTestServer, type TestServer } from './support/test-server.ts';
import { openSyncStream, type OpenStream } from './support/sync-client.ts';

const SCHEMA = `
  CREATE TABLE items (id text PRIMARY KEY, owner text NOT NULL, v integer NOT NULL, pad text);
  CREATE TABLE memberships (id text PRIMARY KEY, user_id text NOT NULL, team text NOT NULL);
`;
const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner
    data:
      - SELECT id, owner, v FROM items WHERE owner = bucket.owner
  by_team:
    parameters: SELECT team FROM memberships WHERE user_id = request.user_id()
    data:
      - SELECT id, owner, v FROM items WHERE owner = bucket.team
`;

type Line<K extends string> = Extract<SyncLine, Record<K, unknown>>;

/** What a PowerSync client does with the lines (reference §2, §3.2): reduce, validate at complete, drop a bucket on mismatch. */
class ReducingClient {
  readonly buckets = new Map<string, { rows: Map<string, { sum: number; data: string }>; add: number }>();
  readonly positions = new Map<string, string>();
  private expected = new Map<string, number>();
  mismatches = 0;
  lastComplete: string | null = null;

  request() {
    return { buckets: [...this.positions].map(([name, after]) => ({ name, after })) };
  }

  /** Returns true at a checkpoint_complete that validated. */
  handle(line: SyncLine): boolean {
    if ('checkpoint' in line) {
      const cp = (line as Line<'checkpoint'>).checkpoint;
      this.expected = new Map(cp.buckets.map((b) => [b.bucket, b.checksum >>> 0]));
      for (const b of [...this.buckets.keys()]) if (!this.expected.has(b)) this.drop(b);
    } else if ('checkpoint_diff' in line) {
      const d = (line as Line<'checkpoint_diff'>).checkpoint_diff;
      for (const b of d.updated_buckets) this.expected.set(b.bucket, b.checksum >>> 0);
      for (const b of d.removed_buckets) {
        this.expected.delete(b);
        this.drop(b);
      }
    } else if ('data' in line) {
      const d = (line as Line<'data'>).data;
      const s = this.buckets.get(d.bucket) ?? { rows: new Map(), add: 0 };
      this.buckets.set(d.bucket, s);
      for (const op of d.data) {
        const sum = Number(op.checksum) >>> 0;
        if (op.op === 'CLEAR') {
          s.rows.clear();
          s.add = sum;
        } else if (op.op === 'MOVE') s.add = addChecksums(s.add, sum);
        else {
          const key = `${op.object_type}/${op.object_id}/${op.subkey}`;
          const prev = s.rows.get(key);
          if (prev) s.add = addChecksums(s.add, prev.sum);
          if (op.op === 'PUT') s.rows.set(key, { sum, data: op.data! });
          else {
            s.rows.delete(key);
            s.add = addChecksums(s.add, sum);
          }
        }
      }
      this.positions.set(d.bucket, d.next_after);
    } else if ('checkpoint_complete' in line) {
      let ok = true;
      for (const [b, want] of this.expected) {
        if (this.checksum(b) !== want) {
          this.mismatches++;
          this.drop(b);
          ok = false;
        }
      }
      if (ok) this.lastComplete = (line as Line<'checkpoint_complete'>).checkpoint_complete.last_op_id;
      return ok;
    }
    return false;
  }

  checksum(b: string): number {
    const s = this.buckets.get(b);
    if (!s) return 0;
    let sum = s.add;
    for (const r of s.rows.values()) sum = addChecksums(sum, r.sum);
    return sum;
  }

  rows(): Map<string, Map<string, string>> {
    const out = new Map<string, Map<string, string>>();
    for (const [b, s] of this.buckets) {
      if (s.rows.size > 0) out.set(b, new Map([...s.rows].map(([k, v]) => [k.split('/')[1]!, v.data])));
    }
    return out;
  }

  private drop(b: string): void {
    this.buckets.delete(b);
    this.positions.delete(b);
  }
}

async function expectedRows(server: TestServer, version: number, user: string, wide = false): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  const add = async (bucket: string, owner: string) => {
    const { rows } = await server.source.query<{ id: string; owner: string; v: number; pad?: string }>(
      `SELECT id, owner, v${wide ? ', pad' : ''} FROM items WHERE owner = $1`,
      [owner],
    );
    if (rows.length === 0) return;
    out.set(bucket, new Map(rows.map((r) => [r.id, JSON.stringify(r)])));
  };
  await add(`${version}#by_owner["${user}"]`, user);
  const { rows: teams } = await server.source.query<{ team: string }>('SELECT DISTINCT team FROM memberships WHERE user_id = $1', [user]);
  for (const t of teams) await add(`${version}#by_team["${t.team}"]`, t.team);
  return out;
}

/** Reads (reconnecting after a checksum failure, like a real client) until the client holds exactly `want`. */
async function syncUntil(server: TestServer, client: ReducingClient, token: string, want: Map<string, Map<string, string>>, open?: OpenStream): Promise<void> {
  const deadline = Date.now() + 60_000;
  let stream = open ?? (await openSyncStream(server.url, token, client.request()));
  try {
    for (;;) {
      const line = await stream.next(Math.max(1, deadline - Date.now()));
      if (line === null) throw new Error('stream ended');
      const validated = client.handle(line);
      if ('checkpoint_complete' in line && !validated) {
        stream.close();
        stream = await openSyncStream(server.url, token, client.request());
        continue;
      }
      if (validated && canonical(client.rows()) === canonical(want)) {
        expect(client.rows()).toEqual(want);
        return;
      }
    }
  } finally {
    stream.close();
  }
}

function canonical(rows: Map<string, Map<string, string>>): string {
  return JSON.stringify([...rows].map(([b, m]) => [b, [...m].sort()]).sort());
}

async function compactAll(server: TestServer): Promise<number> {
  const frag = await server.admin('/api/admin/v1/fragmentation?limit=1000');
  expect(frag.status).toBe(200);
  const buckets = ((await frag.json()) as { data: { byRatio: Array<{ bucket: string }> } }).data.byRatio.map((b) => b.bucket);
  if (buckets.length === 0) return 0;
  const res = await server.admin('/api/admin/v1/compact', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ buckets }) });
  const body = (await res.json()) as { data: { buckets: Array<{ moved: number; removed: number }> } };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.data.buckets.reduce((n, b) => n + b.moved + b.removed, 0);
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('compaction seen through the sync stream', () => {
  it('fresh, resuming and continuously connected clients end with exactly the live rows and valid checksums over random changes and compactions', async () => {
    await using server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
    const version = await server.deploy(RULES);
    await server.waitActive(version);
    const token = await server.token('a');
    const rand = rng(7);
    const live = new ReducingClient();
    const liveStream = await openSyncStream(server.url, token, live.request());
    const resumer = new ReducingClient();
    let rewritten = 0;
    let n = 0;
    for (let round = 0; round < 10; round++) {
      const stmts: string[] = [];
      for (let i = 0; i < 15; i++) {
        const r = rand();
        const owner = ['a', 'b', 'c'][Math.floor(rand() * 3)]!;
        const id = `i${Math.floor(rand() * Math.max(n, 1))}`;
        if (r < 0.3) stmts.push(`INSERT INTO items VALUES ('i${n++}', '${owner}', 0)`);
        else if (r < 0.7) stmts.push(`UPDATE items SET v = v + 1 WHERE id = '${id}'`);
        else if (r < 0.85) stmts.push(`UPDATE items SET owner = '${owner}' WHERE id = '${id}'`);
        else if (r < 0.93) stmts.push(`DELETE FROM items WHERE id = '${id}'`);
        else stmts.push(`INSERT INTO memberships VALUES ('m${Math.floor(rand() * 3)}', 'a', '${owner}') ON CONFLICT (id) DO UPDATE SET team = excluded.team`);
      }
      await server.source.query(`BEGIN; ${stmts.join('; ')}; COMMIT`);
      const want = await expectedRows(server, version, 'a');
      if (round % 2 === 1) {
        // Let replication catch up with this round first, so compaction has something to rewrite.
        await syncUntil(server, resumer, token, want);
        rewritten += await compactAll(server);
      }
      await syncUntil(server, new ReducingClient(), token, want);
      await syncUntil(server, resumer, token, want);
    }
    await syncUntil(server, live, token, await expectedRows(server, version, 'a'), liveStream);
    expect(rewritten).toBeGreaterThan(0);
    expect(resumer.mismatches).toBe(0);
    expect(live.mismatches).toBe(0);
  });

  it('a client paused mid-download while the bucket is compacted gets no checkpoint_complete for the old checkpoint and ends exact', async () => {
    await using server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
    const version = await server.deploy(RULES.replaceAll('SELECT id, owner, v FROM', 'SELECT id, owner, v, pad FROM'));
    await server.waitActive(version);
    // ~12 MB of rows: far more than socket buffers hold, so the stalled stream really stops mid-download.
    await server.source.query(
      `INSERT INTO items SELECT 'r' || g, 'a', 0, (SELECT string_agg(md5(g::text || '.' || i::text), '') FROM generate_series(1, 60) i) FROM generate_series(1, 6000) g`,
    );
    const token = await server.token('a');
    const probe = new ReducingClient();
    await syncUntil(server, probe, token, await expectedRows(server, version, 'a', true));

    const client = new ReducingClient();
    const stream = await openSyncStream(server.url, token, client.request());
    const first = (await stream.next())!;
    expect('checkpoint' in first).toBe(true);
    const oldCheckpoint = (first as Line<'checkpoint'>).checkpoint.last_op_id;
    client.handle(first);
    client.handle((await stream.next())!); // one data line, then the client stalls (backpressure)

    await server.source.query(`UPDATE items SET v = v + 1`);
    await syncUntil(server, probe, token, await expectedRows(server, version, 'a', true));
    expect(await compactAll(server)).toBeGreaterThan(0);

    const seen: SyncLine[] = [];
    const want = await expectedRows(server, version, 'a', true);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const line = (await stream.next(Math.max(1, deadline - Date.now())))!;
      seen.push(line);
      const ok = client.handle(line);
      if ('checkpoint_complete' in line) {
        expect(ok).toBe(true);
        const rewritten = seen.some((l) => 'data' in l && l.data.data.some((op) => op.op === 'CLEAR' || op.op === 'MOVE'));
        // Rewritten ops reached this client: the old checkpoint must not complete. If the stream had
        // already read (and buffered) every op of the old checkpoint before compaction, completing it
        // is correct, and the client must then catch up to the new rows with the next checkpoint.
        if (rewritten) expect(line.checkpoint_complete.last_op_id).not.toBe(oldCheckpoint);
        if (line.checkpoint_complete.last_op_id !== oldCheckpoint) break;
      }
    }
    stream.close();
    expect(client.rows()).toEqual(want);
    expect(client.mismatches).toBe(0);
  });

  it('reports fragmentation, defragments a bucket, and rejects bad requests and missing admin auth', async () => {
    await using server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
    const version = await server.deploy(RULES);
    await server.waitActive(version);
    await server.source.query(`INSERT INTO items VALUES ('keep', 'c', 0)`);
    await server.source.query(`INSERT INTO items SELECT 'x' || g, 'c', 0 FROM generate_series(1, 30) g`);
    const token = await server.token('c');
    const client = new ReducingClient();
    for (let i = 0; i < 5; i++) {
      await server.source.query(`UPDATE items SET v = v + 1 WHERE id <> 'keep'`);
      await syncUntil(server, client, token, await expectedRows(server, version, 'c'));
    }
    await compactAll(server);
    const bucket = `${version}#by_owner["c"]`;
    const frag = (await (await server.admin('/api/admin/v1/fragmentation')).json()) as { data: { byRatio: Array<{ bucket: string; opsPerLiveRow: number }> } };
    expect(frag.data.byRatio.find((b) => b.bucket === bucket)!.opsPerLiveRow).toBeGreaterThan(3);

    const res = await server.admin('/api/admin/v1/defragment', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bucket }) });
    const body = (await res.json()) as { data: { rows_emitted: number } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.data.rows_emitted).toBe(31);
    const after = (await (await server.admin('/api/admin/v1/fragmentation')).json()) as { data: { byRatio: Array<{ bucket: string; opCount: number }> } };
    expect(after.data.byRatio.find((b) => b.bucket === bucket)!.opCount).toBe(32);
    await syncUntil(server, client, token, await expectedRows(server, version, 'c'));
    const fresh = new ReducingClient();
    await syncUntil(server, fresh, token, await expectedRows(server, version, 'c'));
    expect(client.mismatches + fresh.mismatches).toBe(0);

    const missing = await server.admin('/api/admin/v1/defragment', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bucket: 'nope' }) });
    expect(missing.status).toBe(404);
    const bad = await server.admin('/api/admin/v1/compact', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ buckets: 'all' }) });
    expect(bad.status).toBe(400);
    const anon = await fetch(`${server.url}/api/admin/v1/fragmentation`);
    expect(anon.status).toBe(401);
  });
});
