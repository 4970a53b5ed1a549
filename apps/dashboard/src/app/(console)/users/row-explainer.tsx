'use client';
/** Source-row lookup (stored + evaluated memberships) and "why is row R (not) in user U's buckets". */
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Badge, Button, Card, Empty, ErrorBox, inputClass } from '@/components/ui.tsx';
import { useTRPC } from '@/trpc/react.tsx';
import type { UserInput } from './user-inspector.tsx';

const VERDICT_TONES: Record<string, string> = {
  'in-bucket': 'bg-emerald-100 text-emerald-800',
  'no-bucket-for-row': 'bg-zinc-100 text-zinc-700',
  'user-has-none': 'bg-amber-100 text-amber-800',
  'different-parameters': 'bg-amber-100 text-amber-800',
  'not-subscribed': 'bg-zinc-100 text-zinc-700',
  'subscription-error': 'bg-red-100 text-red-800',
};

export function RowExplainer({ user }: { user: UserInput | null }) {
  const trpc = useTRPC();
  const [schema, setSchema] = useState('public');
  const [table, setTable] = useState('');
  const [id, setId] = useState('');
  const [row, setRow] = useState<{ schema: string; table: string; id: string } | null>(null);
  const memberships = useQuery({ ...trpc.buckets.row.queryOptions(row ?? { table: '-', id: '-' }), enabled: row !== null && user === null });
  const explain = useQuery({ ...trpc.users.explainRow.queryOptions({ ...(user ?? { userId: '-', claims: {}, clientParameters: {}, subscriptions: [], includeDefaults: true }), row: row ?? { table: '-', id: '-' } }), enabled: row !== null && user !== null });
  const m = user ? explain.data?.memberships : memberships.data;

  return (
    <Card title={user ? `Row lookup · why is it (not) in ${user.userId}'s buckets?` : 'Row lookup'} testId="row-explainer">
      <form
        className="flex flex-wrap items-end gap-2 text-xs"
        onSubmit={(e) => {
          e.preventDefault();
          setRow({ schema: schema.trim() || 'public', table: table.trim(), id: id.trim() });
        }}
      >
        <input aria-label="Row schema" value={schema} onChange={(e) => setSchema(e.target.value)} className={`${inputClass} w-24 font-mono`} />
        <input aria-label="Row table" required placeholder="table" value={table} onChange={(e) => setTable(e.target.value)} className={`${inputClass} w-40 font-mono`} />
        <input aria-label="Row id" required placeholder="id (or JSON array for composite keys)" value={id} onChange={(e) => setId(e.target.value)} className={`${inputClass} w-80 font-mono`} />
        <Button type="submit" variant="primary">
          {user ? 'Explain' : 'Look up'}
        </Button>
        {!user ? <span className="text-zinc-500">Inspect a user above to also see why the row is (not) theirs.</span> : null}
      </form>
      <div className="mt-2">
        <ErrorBox error={user ? explain.error : memberships.error} />
      </div>
      {explain.data && user ? (
        <div className="mt-3 space-y-2" data-testid="row-explanation">
          <p className="text-sm font-medium">
            {explain.data.visible ? (
              <span className="text-emerald-700">Visible: {user.userId} syncs this row.</span>
            ) : (
              <span className="text-amber-700">Not visible: {user.userId} does not sync this row.</span>
            )}
            {explain.data.storedAgrees === false ? <span className="ml-2 text-red-700">Stored memberships differ from the rules evaluated now (replication lag or a bug — run verification).</span> : null}
          </p>
          {explain.data.definitions.map((d) => (
            <div key={d.definition} className="rounded border border-zinc-200 p-2 text-xs" data-testid={`row-verdict-${d.definition}`}>
              <div className="flex items-center gap-2">
                <span className="font-mono font-semibold">{d.definition}</span>
                <span className="text-zinc-400">{d.kind === 'stream' ? `stream${d.queries?.autoSubscribe ? ' · auto_subscribe' : ''}` : 'bucket definition'}</span>
                <Badge tone={VERDICT_TONES[d.verdict]}>{d.verdict}</Badge>
              </div>
              <p className="mt-1 text-zinc-700">{d.message}</p>
              {d.queries ? (
                <div className="mt-1 grid gap-1 font-mono text-[11px] text-zinc-600">
                  {d.queries.parameters.map((q, i) => (
                    <div key={`p${i}`}>
                      <span className="text-zinc-400">parameters:</span> {q}
                    </div>
                  ))}
                  {d.queries.with.map((c) => (
                    <div key={`w${c.scope}${c.name}`}>
                      <span className="text-zinc-400">with {c.name}{c.scope === 'global' ? ' (global)' : ''}:</span> {c.sql}
                    </div>
                  ))}
                  {d.queries.data.map((q, i) => (
                    <div key={`d${i}`}>
                      <span className="text-zinc-400">{d.kind === 'stream' ? 'query:' : 'data:'}</span> {q}
                    </div>
                  ))}
                </div>
              ) : null}
              {d.lookups.length ? (
                <div className="mt-1 font-mono text-[11px] text-zinc-600">
                  {d.lookups.map((l) => (
                    <div key={l.key}>
                      lookup {JSON.stringify(l.values)} → {JSON.stringify(l.results)}
                      {l.sources.length ? <span className="text-zinc-500"> · from {l.sources.slice(0, 20).map((r) => `${r.table} ${r.id}`).join(', ')}</span> : null}
                    </div>
                  ))}
                </div>
              ) : null}
              {d.rowFeeds.length ? (
                <div className="mt-1 font-mono text-[11px] text-zinc-600">
                  {d.rowFeeds.map((f) => (
                    <div key={f.lookup}>
                      this row feeds {f.lookup} → {JSON.stringify(f.bucketParameters)} {f.readByUser ? <span className="text-emerald-700">(read by the user)</span> : <span className="text-zinc-400">(not read by the user)</span>}
                    </div>
                  ))}
                </div>
              ) : null}
              {d.subscriptionErrors.length ? <div className="mt-1 text-[11px] text-red-700">{d.subscriptionErrors.join('; ')}</div> : null}
              <div className="mt-1 font-mono text-[11px] text-zinc-600">
                row → {d.rowBuckets.length ? d.rowBuckets.map((b) => `${b.bucket}`).join(', ') : 'no bucket'} · user → {d.userBuckets.length ? d.userBuckets.slice(0, 20).map((b) => `${JSON.stringify(b.parameters)} (${b.reasons.join(', ')})`).join(', ') : 'no bucket'}
              </div>
            </div>
          ))}
        </div>
      ) : null}
      {m ? (
        <div className="mt-3 grid gap-3 text-xs lg:grid-cols-3" data-testid="row-memberships">
          <div>
            <h3 className="font-semibold text-zinc-600">Source row {m.table.schema}.{m.table.name} {m.sourceKey}</h3>
            {m.row ? <pre className="mt-1 max-h-48 overflow-auto rounded bg-zinc-50 p-2 font-mono text-[11px]">{JSON.stringify(m.row, null, 2)}</pre> : <Empty>Not in the source (deleted?).</Empty>}
          </div>
          <div>
            <h3 className="font-semibold text-zinc-600">Stored memberships (replication)</h3>
            {m.stored ? (
              <ul className="mt-1 font-mono text-[11px]">
                {m.stored.buckets.map((b) => <li key={b.bucket}>{b.bucket} · {b.table}/{b.id}</li>)}
                {m.stored.buckets.length === 0 ? <li className="text-zinc-500">in no bucket</li> : null}
              </ul>
            ) : (
              <Empty>Not stored for this version.</Empty>
            )}
          </div>
          <div>
            <h3 className="font-semibold text-zinc-600">Rules evaluated now</h3>
            <ul className="mt-1 font-mono text-[11px]">
              {m.evaluated.map((b) => <li key={b.bucket}>{b.bucket} · filter values {JSON.stringify(b.parameters)}</li>)}
              {m.evaluated.length === 0 ? <li className="text-zinc-500">in no bucket</li> : null}
              {m.parameterEntries.map((p) => <li key={p.lookup} className="text-zinc-500">parameter index {p.lookup} → {JSON.stringify(p.bucketParameters)}</li>)}
            </ul>
          </div>
        </div>
      ) : null}
    </Card>
  );
}
