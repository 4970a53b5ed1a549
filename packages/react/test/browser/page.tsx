/**
 * The React test page (bundled with esbuild from the workspace sources): a `SynclineProvider`
 * over the browser client, components using every hook, and `window.reactTest` for Playwright.
 * Every render of the list records what it showed, so tests can check for flicker.
 */
import { Component, Suspense, useLayoutEffect, useState, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { flushSync } from 'react-dom';
import { Schema, SynclineDatabase, Table, column } from '@syncline/client';
import { openWasmSqlite } from '@syncline/client/browser';
import { SynclineProvider, useQuery, useStatus, useSuspenseQuery, useSyncStream, useUploadQueueStats } from '@syncline/react';

const schema = new Schema({
  lists: new Table({ owner_id: column.text, name: column.text }),
  todos: new Table({ list_id: column.text, description: column.text }),
});

type Todo = { id: string; list_id: string; description: string };
type Render = { at: number; listId: string; isLoading: boolean; isFetching: boolean; count: number; lists: string[]; error?: string };

const renders: Render[] = [];
const events: string[] = [];
let setView: (v: View) => void = () => undefined;
type View = { listId: string; stream: string | null; suspenseList: string | null; bad: boolean; throttleMs?: number };
/** Epoch ms (sub-ms precision) of DOM commits of the list, and of table-change notifications. */
const commits: { at: number; count: number; first: string }[] = [];
const changes: number[] = [];
const epoch = (): number => performance.timeOrigin + performance.now();

function TodoList({ listId, throttleMs }: { listId: string; throttleMs: number | undefined }): ReactNode {
  const { data, isLoading, isFetching, error } = useQuery<Todo>('SELECT * FROM todos WHERE list_id = ? ORDER BY id', [listId], throttleMs === undefined ? {} : { throttleMs });
  useLayoutEffect(() => void commits.push({ at: epoch(), count: data.length, first: data[0]?.description ?? '' }), [data]);
  renders.push({ at: performance.now(), listId, isLoading, isFetching, count: data.length, lists: [...new Set(data.map((t) => t.list_id))], ...(error ? { error: error.message } : {}) });
  return <ul id="todos">{data.map((t) => <li key={t.id}>{t.description}</li>)}</ul>;
}

function StatusView(): ReactNode {
  const s = useStatus();
  return <p id="status" data-connected={String(s.connected)} data-synced={String(s.hasSynced)} />;
}

function QueueView(): ReactNode {
  const queue = useUploadQueueStats();
  return <p id="queue" data-count={queue === undefined ? '' : String(queue.count)} />;
}

function StreamView({ list }: { list: string }): ReactNode {
  const { status, hasSynced, error } = useSyncStream('list_todos', { list }, { ttl: 0 });
  return <p id="stream" data-active={String(status?.subscription.active ?? false)} data-synced={String(hasSynced)} data-error={error?.message ?? ''} />;
}

function SuspenseList({ listId }: { listId: string }): ReactNode {
  const { data } = useSuspenseQuery<Todo>('SELECT * FROM todos WHERE list_id = ? ORDER BY id', [listId]);
  events.push(`suspense-render:${data.length}`);
  return <p id="suspense" data-count={data.length} />;
}

function Fallback(): ReactNode {
  events.push('suspense-fallback');
  return <p id="fallback" />;
}

class Boundary extends Component<{ children: ReactNode }, { error?: string }> {
  override state: { error?: string } = {};
  static getDerivedStateFromError(e: unknown): { error: string } {
    return { error: e instanceof Error ? e.message : String(e) };
  }
  override render(): ReactNode {
    return this.state.error ? <p id="boundary" data-error={this.state.error} /> : this.props.children;
  }
}

function BadQuery(): ReactNode {
  const { isLoading, error } = useQuery('SELECT * FROM no_such_table');
  events.push(`bad:${isLoading}:${error ? 'error' : 'none'}`);
  return <p id="bad" data-loading={String(isLoading)} data-error={error?.message ?? ''} />;
}

function App({ initial }: { initial: View }): ReactNode {
  const [view, set] = useState(initial);
  setView = set;
  return (
    <>
      <StatusView />
      <QueueView />
      <TodoList listId={view.listId} throttleMs={view.throttleMs} />
      {view.stream ? <StreamView list={view.stream} /> : null}
      {view.suspenseList ? (
        <Boundary>
          <Suspense fallback={<Fallback />}>
            <SuspenseList listId={view.suspenseList} />
          </Suspense>
        </Boundary>
      ) : null}
      {view.bad ? <BadQuery /> : null}
    </>
  );
}

let db: SynclineDatabase | undefined;
/** While true the connector's upload fails (the queue keeps its entries and is retried). */
let holdUploads = false;

const api = {
  async start(endpoint: string, token: string, listId: string, throttleMs?: number): Promise<string> {
    current = { listId, stream: null, suspenseList: null, bad: false, ...(throttleMs === undefined ? {} : { throttleMs }) };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const database = await openWasmSqlite({ filename: `react-${Math.random().toString(36).slice(2)}.db`, worker, vfs: 'memory' });
    db = new SynclineDatabase({ schema, database });
    await db.ready;
    db.onChange(['todos'], () => void changes.push(epoch()));
    const root = createRoot(document.getElementById('root')!);
    flushSync(() => root.render(<SynclineProvider db={db!}><App initial={current} /></SynclineProvider>));
    await db.connect({ fetchCredentials: async () => ({ endpoint, token }), uploadData: async (d) => {
      if (holdUploads) throw new Error('uploads held by the test');
      await (await d.getNextCrudTransaction())?.complete();
    } }, { retry: { baseMs: 50, maxMs: 200 }, uploadRetry: { baseMs: 50, maxMs: 200 } });
    return database.vfs;
  },
  view(patch: Partial<View>): void {
    setView0((v) => ({ ...v, ...patch }));
  },
  renders: (): Render[] => renders,
  commits: () => commits,
  changes: () => changes,
  events: (): string[] => events,
  clear(): void {
    renders.length = 0;
    events.length = 0;
    commits.length = 0;
    changes.length = 0;
  },
  async localInsert(id: string, listId: string, description: string): Promise<void> {
    await db!.execute('INSERT INTO todos (id, list_id, description) VALUES (?, ?, ?)', [id, listId, description]);
  },
  holdUploads(hold: boolean): void {
    holdUploads = hold;
  },
  async count(listId: string): Promise<number> {
    return (await db!.get<{ n: number }>('SELECT count(*) AS n FROM todos WHERE list_id = ?', [listId])).n;
  },
  async close(): Promise<void> {
    await db?.close();
  },
};

let current: View = { listId: '', stream: null, suspenseList: null, bad: false };
function setView0(update: (v: View) => View): void {
  current = update(current);
  setView(current);
}

(globalThis as unknown as { reactTest: typeof api }).reactTest = api;
