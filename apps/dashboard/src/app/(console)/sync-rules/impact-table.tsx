'use client';
/** Impact preview: buckets and rows per definition, candidate vs active. */
import type { inferRouterOutputs } from '@trpc/server';
import type { AdminRouter } from '@/trpc/admin-router.ts';
import { Badge, Card, fmtNumber, Td, Th } from '@/components/ui.tsx';

type Preview = inferRouterOutputs<AdminRouter>['syncRules']['impact'];

function delta(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined) return '';
  const d = b - a;
  return d === 0 ? '' : d > 0 ? ` (+${fmtNumber(d)})` : ` (${fmtNumber(d)})`;
}

const TONES = { added: 'bg-emerald-100 text-emerald-800', removed: 'bg-red-100 text-red-800', changed: 'bg-amber-100 text-amber-800', unchanged: 'bg-zinc-100 text-zinc-600' };

export function ImpactTable({ preview }: { preview: Preview }) {
  return (
    <Card title="Impact preview" testId="impact-preview">
      <p className="mb-2 text-xs text-zinc-500">
        Evaluated over the current source rows{preview.activeVersionId ? `, compared with active version ${preview.activeVersionId}` : ' (nothing active yet)'}.
        {preview.sampled ? (
          <span className="ml-1 font-medium text-amber-700">Sampled: big tables were read up to {fmtNumber(preview.rowLimitPerTable)} rows each, so their counts are lower bounds.</span>
        ) : (
          ' Every row was read.'
        )}
      </p>
      <table className="w-full text-xs">
        <thead>
          <tr>
            <Th>Definition</Th>
            <Th>Change</Th>
            <Th className="text-right">Buckets (active → new)</Th>
            <Th className="text-right">Rows (active → new)</Th>
          </tr>
        </thead>
        <tbody>
          {preview.definitions.map((d) => (
            <tr key={d.definition}>
              <Td className="font-mono">{d.definition}</Td>
              <Td>
                <Badge tone={TONES[d.status]}>{d.status}</Badge>
              </Td>
              <Td className="text-right tabular-nums">
                {fmtNumber(d.active?.buckets)} → {fmtNumber(d.candidate?.buckets)}
                {delta(d.active?.buckets, d.candidate?.buckets)}
              </Td>
              <Td className="text-right tabular-nums">
                {fmtNumber(d.active?.rows)} → {fmtNumber(d.candidate?.rows)}
                {delta(d.active?.rows, d.candidate?.rows)}
              </Td>
            </tr>
          ))}
        </tbody>
      </table>
      <details className="mt-2 text-xs text-zinc-600">
        <summary className="cursor-pointer">Tables read ({preview.tables.length})</summary>
        <ul className="mt-1 space-y-0.5 font-mono">
          {preview.tables.map((t) => (
            <li key={`${t.schema}.${t.name}`}>
              {t.schema}.{t.name}: {fmtNumber(t.scannedRows)} of ~{fmtNumber(t.estimatedRows)} rows{t.sampled ? ' (sampled)' : ''}
            </li>
          ))}
        </ul>
      </details>
    </Card>
  );
}
