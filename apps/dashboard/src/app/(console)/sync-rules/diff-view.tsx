'use client';
/** Unified line diff with old/new line numbers. */
import type { inferRouterOutputs } from '@trpc/server';
import type { AdminRouter } from '@/trpc/admin-router.ts';

type Diff = inferRouterOutputs<AdminRouter>['syncRules']['diff'];

export function DiffView({ diff }: { diff: Diff }) {
  return (
    <div>
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
