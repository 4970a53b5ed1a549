import type { ProbeOutcome } from '@/lib/probes.ts';

const TONE = {
  good: 'bg-emerald-100 text-emerald-800 ring-emerald-600/20',
  bad: 'bg-red-100 text-red-800 ring-red-600/20',
  unknown: 'bg-zinc-100 text-zinc-700 ring-zinc-500/20',
} as const;

/** One probe's outcome: a status word (`upLabel` / `downLabel` / "unreachable") plus HTTP details. */
export function ProbeCard({ title, path, outcome, upLabel, downLabel, testId }: {
  title: string;
  path: string;
  outcome: ProbeOutcome;
  upLabel: string;
  downLabel: string;
  testId: string;
}) {
  const label = outcome.state === 'up' ? upLabel : outcome.state === 'down' ? downLabel : 'unreachable';
  const tone = outcome.state === 'up' ? TONE.good : outcome.state === 'down' ? TONE.bad : TONE.unknown;
  return (
    <div className="rounded-md border border-zinc-200 bg-white">
      <div className="flex items-center justify-between border-b border-zinc-100 px-4 py-2.5">
        <div>
          <h2 className="font-medium">{title}</h2>
          <code className="text-xs text-zinc-500">GET {path}</code>
        </div>
        <span data-testid={testId} className={`rounded-full px-2.5 py-0.5 text-xs font-semibold ring-1 ring-inset ${tone}`}>
          {label}
        </span>
      </div>
      <dl className="grid grid-cols-[7rem_1fr] gap-x-3 gap-y-1 px-4 py-2.5 text-xs">
        <dt className="text-zinc-500">HTTP status</dt>
        <dd className="font-mono">{outcome.state === 'unreachable' ? '—' : outcome.status}</dd>
        <dt className="text-zinc-500">Latency</dt>
        <dd className="font-mono">{outcome.latencyMs} ms</dd>
        {outcome.state === 'unreachable' ? (
          <>
            <dt className="text-zinc-500">Error</dt>
            <dd className="font-mono text-red-700">{outcome.error}</dd>
          </>
        ) : null}
      </dl>
      {outcome.state !== 'unreachable' && outcome.body ? (
        <pre className="max-h-64 overflow-auto border-t border-zinc-100 bg-zinc-50 px-4 py-2.5 font-mono text-xs text-zinc-700">
          {outcome.body}
        </pre>
      ) : null}
    </div>
  );
}
