'use client';
/** Impact preview: buckets and rows per definition / stream, candidate vs active; per stream for each sample user. */
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
            <Th>Definition / stream</Th>
            <Th>Kind</Th>
            <Th>Change</Th>
            <Th className="text-right">Buckets (active → new)</Th>
            <Th className="text-right">Rows (active → new)</Th>
          </tr>
        </thead>
        <tbody>
          {preview.definitions.map((d) => (
            <tr key={d.definition}>
              <Td className="font-mono">{d.definition}</Td>
              <Td className="whitespace-nowrap text-zinc-600">{d.kind === 'stream' ? (d.autoSubscribe ? 'stream · auto' : 'stream · on demand') : 'definition'}</Td>
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
      {preview.users.length > 0 ? <UserImpactTable users={preview.users} /> : null}
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

function UserImpactTable({ users }: { users: Preview['users'] }) {
  return (
    <div className="mt-3 overflow-x-auto" data-testid="impact-users">
      <h3 className="mb-1 text-xs font-medium text-zinc-700">Per stream for the sample users (rows: rows of the scanned tables in their buckets)</h3>
      <table className="w-full text-xs">
        <thead>
          <tr>
            <Th>User</Th>
            <Th>Stream</Th>
            <Th>Reasons</Th>
            <Th className="text-right">Buckets (active → new)</Th>
            <Th className="text-right">Rows (active → new)</Th>
          </tr>
        </thead>
        <tbody>
          {users.flatMap((u) => [
            ...u.streams.map((s) => (
              <tr key={`${u.userId}/${s.stream}`} data-testid="impact-user-stream">
                <Td className="font-mono">{u.userId}</Td>
                <Td className="font-mono">{s.stream}</Td>
                <Td className="font-mono">{s.reasons.join(', ') || '—'}</Td>
                <Td className="text-right tabular-nums">
                  {fmtNumber(s.active?.buckets)} → {fmtNumber(s.candidate?.buckets)}
                  {delta(s.active?.buckets, s.candidate?.buckets)}
                </Td>
                <Td className="text-right tabular-nums">
                  {fmtNumber(s.active?.rows)} → {fmtNumber(s.candidate?.rows)}
                  {delta(s.active?.rows, s.candidate?.rows)}
                </Td>
              </tr>
            )),
            ...u.subscriptions
              .filter((s) => s.errors.length > 0 || !s.known)
              .map((s) => (
                <tr key={`${u.userId}/sub${s.index}`}>
                  <Td className="font-mono">{u.userId}</Td>
                  <Td className="font-mono">{s.stream}</Td>
                  <Td className="font-mono">sub {s.index}</Td>
                  <td colSpan={2} className="border-b border-zinc-100 px-2 py-1 align-top text-amber-700">
                    {s.known ? s.errors.join('; ') : 'unknown stream (ignored, as the sync endpoint does)'}
                  </td>
                </tr>
              )),
            ...(u.candidateError || u.activeError
              ? [
                  <tr key={`${u.userId}/error`}>
                    <Td className="font-mono">{u.userId}</Td>
                    <td colSpan={4} className="border-b border-zinc-100 px-2 py-1 align-top text-red-700">
                      Refused: {u.candidateError ?? u.activeError}
                    </td>
                  </tr>,
                ]
              : []),
            ...(u.streams.length === 0 ? [<tr key={`${u.userId}/none`}><Td className="font-mono">{u.userId}</Td><td colSpan={4} className="border-b border-zinc-100 px-2 py-1 align-top text-zinc-500">no streams for this user</td></tr>] : []),
          ])}
        </tbody>
      </table>
    </div>
  );
}
