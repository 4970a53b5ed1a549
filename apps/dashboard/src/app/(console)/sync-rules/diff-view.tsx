'use client';
/** Per-stream changes (added / removed / what changed) and the unified line diff with old/new line numbers. */
import type { inferRouterOutputs } from '@trpc/server';
import type { AdminRouter } from '@/trpc/admin-router.ts';

type Diff = inferRouterOutputs<AdminRouter>['syncRules']['diff'];

export function DiffView({ diff }: { diff: Diff }) {
  return (
    <div>
      {diff.edition.from !== diff.edition.to ? <p className="mb-1 text-xs text-indigo-800">Edition {diff.edition.from} → {diff.edition.to}</p> : null}
      {diff.streams.some((s) => s.status !== 'unchanged') ? (
        <ul className="mb-2 space-y-0.5 text-xs" data-testid="diff-streams">
          {diff.streams
            .filter((s) => s.status !== 'unchanged')
            .map((s) => (
              <li key={s.name} className={s.status === 'added' ? 'text-emerald-800' : s.status === 'removed' ? 'text-red-800' : 'text-amber-800'}>
                <span className="font-mono">{s.name}</span> <span className="text-zinc-500">({s.kind === 'stream' ? 'stream' : 'definition'})</span> {s.status}
                {s.changes.length ? `: ${s.changes.join(', ')}` : ''}
              </li>
            ))}
        </ul>
      ) : null}
      <p className="mb-1 text-xs text-zinc-600">
        <span className="text-emerald-700">+{diff.added}</span> <span className="text-red-700">−{diff.deleted}</span>
      </p>
      <div className="max-h-96 overflow-auto rounded border border-zinc-200 font-mono text-xs leading-5">
        {diff.lines.map((l, i) => (
          <div key={i} className={`flex whitespace-pre ${l.type === 'add' ? 'bg-emerald-50 text-emerald-900' : l.type === 'del' ? 'bg-red-50 text-red-900' : ''}`}>
            <span className="w-8 shrink-0 select-none pr-1 text-right text-zinc-400">{l.oldLine ?? ''}</span>
            <span className="w-8 shrink-0 select-none pr-1 text-right text-zinc-400">{l.newLine ?? ''}</span>
            <span className="w-4 shrink-0 select-none text-center">{l.type === 'add' ? '+' : l.type === 'del' ? '−' : ' '}</span>
            <span>{l.text}</span>
          </div>
        ))}
      </div>
    </div>
  );
}
