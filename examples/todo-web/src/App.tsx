/** The todo app: lists on the left, the selected list's todos on the right, sync status and rejected writes on top. */
import { useState, type FormEvent } from 'react';
import type { ListRow, TodoRow } from './app-schema.ts';
import type { RejectedWrite } from './backend-connector.ts';
import { useQuery, useStatus, useSyncline, useUploadQueueStats } from '@syncline/react';

function SyncBadge() {
  const status = useStatus();
  const state = !status.connected ? (status.connecting ? 'connecting' : 'offline') : status.uploading ? 'uploading' : 'online';
  const color = { online: 'bg-emerald-500', uploading: 'bg-sky-500', connecting: 'bg-amber-400', offline: 'bg-slate-400' }[state];
  return (
    <span data-testid="sync-status" data-state={state} className="inline-flex items-center gap-2 rounded-full bg-white px-3 py-1 text-sm text-slate-700 shadow-sm">
      <span className={`h-2 w-2 rounded-full ${color}`} />
      {state}
    </span>
  );
}

/** Local writes not uploaded yet (they survive reloads: the queue is in the local database). */
function PendingUploads() {
  const queue = useUploadQueueStats();
  if (!queue) return null;
  return (
    <span data-testid="pending-uploads" data-count={queue.count} className="text-sm text-slate-500">
      {queue.count === 0 ? 'all changes uploaded' : `${queue.count} change${queue.count === 1 ? '' : 's'} not uploaded yet`}
    </span>
  );
}

function ErrorBanner({ errors, onDismiss }: { errors: RejectedWrite[]; onDismiss: () => void }) {
  if (errors.length === 0) return null;
  return (
    <div role="alert" data-testid="error-banner" className="mb-4 flex items-start justify-between gap-4 rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-800">
      <ul className="space-y-1">
        {errors.map((e, i) => (
          <li key={i}>
            <span className="font-mono font-semibold">{e.code}</span>: {e.message}
          </li>
        ))}
      </ul>
      <button type="button" onClick={onDismiss} className="text-red-700 underline">
        dismiss
      </button>
    </div>
  );
}

function AddForm({ placeholder, testId, onAdd }: { placeholder: string; testId: string; onAdd: (text: string) => Promise<void> }) {
  const [text, setText] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    void onAdd(text.trim()).then(() => setText(''));
  };
  return (
    <form onSubmit={submit} className="flex gap-2">
      <input data-testid={testId} value={text} onChange={(e) => setText(e.target.value)} placeholder={placeholder} className="flex-1 rounded border border-slate-300 px-2 py-1" />
      <button type="submit" className="rounded bg-slate-800 px-3 py-1 text-white">
        Add
      </button>
    </form>
  );
}

function Lists({ userId, selected, onSelect }: { userId: string; selected: string | null; onSelect: (id: string | null) => void }) {
  const db = useSyncline();
  const { data: lists, isLoading } = useQuery<ListRow & { pending: number; done: number }>(
    `SELECT lists.*, (SELECT count(*) FROM todos WHERE list_id = lists.id AND completed = 0) AS pending,
            (SELECT count(*) FROM todos WHERE list_id = lists.id AND completed = 1) AS done
       FROM lists ORDER BY created_at, name`,
  );
  const add = async (name: string) => {
    const id = crypto.randomUUID();
    await db.execute('INSERT INTO lists (id, owner_id, name, created_at) VALUES (?, ?, ?, ?)', [id, userId, name, new Date().toISOString()]);
    onSelect(id);
  };
  return (
    <section className="space-y-3">
      <h2 className="text-lg font-semibold">Lists</h2>
      <AddForm placeholder="New list" testId="new-list" onAdd={add} />
      {isLoading ? <p className="text-slate-500">Loading…</p> : null}
      <ul className="space-y-1" data-testid="lists">
        {lists.map((l) => (
          <li key={l.id} data-testid="list" data-name={l.name ?? ''} data-selected={l.id === selected ? 'true' : 'false'} className={`flex items-center justify-between rounded px-2 py-1 ${l.id === selected ? 'bg-slate-200' : 'hover:bg-slate-100'}`}>
            <button type="button" aria-current={l.id === selected ? 'true' : undefined} className="flex-1 text-left" onClick={() => onSelect(l.id)}>
              {l.name} <span className="text-xs text-slate-500">({l.pending} open, {l.done} done)</span>
            </button>
            <button type="button" aria-label={`delete list ${l.name}`} className="text-slate-400 hover:text-red-600" onClick={() => void db.execute('DELETE FROM lists WHERE id = ?', [l.id])}>
              ✕
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The selected list's todos. Keyed by list id in App, so text typed for one list never lands in another. */
function Todos({ userId, listId }: { userId: string; listId: string }) {
  const db = useSyncline();
  const { data: names } = useQuery<{ name: string | null }>('SELECT name FROM lists WHERE id = ?', [listId]);
  const { data: todos, isLoading } = useQuery<TodoRow>('SELECT * FROM todos WHERE list_id = ? ORDER BY created_at, description', [listId]);
  const add = async (description: string) => {
    await db.execute('INSERT INTO todos (id, list_id, owner_id, description, completed, priority, created_at) VALUES (?, ?, ?, ?, 0, 0, ?)', [
      crypto.randomUUID(),
      listId,
      userId,
      description,
      new Date().toISOString(),
    ]);
  };
  const toggle = (t: TodoRow) =>
    db.execute('UPDATE todos SET completed = ?, completed_at = ? WHERE id = ?', [t.completed ? 0 : 1, t.completed ? null : new Date().toISOString(), t.id]);
  return (
    <section className="space-y-3" data-testid="todos-panel" data-list-id={listId} data-loading={isLoading ? 'true' : 'false'}>
      <h2 className="text-lg font-semibold">{names[0]?.name ?? ''}</h2>
      <AddForm placeholder="What needs doing?" testId="new-todo" onAdd={add} />
      <ul className="divide-y divide-slate-200" data-testid="todos">
        {todos.map((t) => (
          <li key={t.id} data-testid="todo" data-description={t.description ?? ''} data-completed={t.completed ? 'true' : 'false'} className="flex items-center gap-3 py-2">
            <input type="checkbox" aria-label={`complete ${t.description}`} checked={Boolean(t.completed)} onChange={() => void toggle(t)} />
            <span className={`flex-1 ${t.completed ? 'text-slate-400 line-through' : ''}`}>{t.description}</span>
            <button type="button" aria-label={`delete todo ${t.description}`} className="text-slate-400 hover:text-red-600" onClick={() => void db.execute('DELETE FROM todos WHERE id = ?', [t.id])}>
              ✕
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function App({ userId, errors, onDismissErrors }: { userId: string; errors: RejectedWrite[]; onDismissErrors: () => void }) {
  const [selected, setSelected] = useState<string | null>(null);
  return (
    <div className="mx-auto max-w-4xl p-6">
      <header className="mb-4 flex items-center justify-between">
        <h1 className="text-2xl font-bold">
          Todos <span className="text-base font-normal text-slate-500" data-testid="user">{userId}</span>
        </h1>
        <div className="flex items-center gap-3">
          <PendingUploads />
          <SyncBadge />
        </div>
      </header>
      <ErrorBanner errors={errors} onDismiss={onDismissErrors} />
      <main className="grid grid-cols-1 gap-6 md:grid-cols-[1fr_2fr]">
        <Lists userId={userId} selected={selected} onSelect={setSelected} />
        {selected ? <Todos key={selected} userId={userId} listId={selected} /> : <p className="text-slate-500">Pick or add a list.</p>}
      </main>
    </div>
  );
}
