'use client';
/** Start a verification run, watch its progress, read its mismatch report, browse past runs. */
import { useEffect, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Badge, Button, Card, Empty, ErrorBox, fmtNumber, fmtTime, inputClass, Td, Th } from '@/components/ui.tsx';
import { useTRPC } from '@/trpc/react.tsx';

export function VerificationConsole() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [userId, setUserId] = useState('');
  const [selected, setSelected] = useState<number | null>(null);
  const runs = useQuery({ ...trpc.verification.runs.queryOptions({ limit: 20 }), refetchInterval: (q) => (q.state.data?.some((r) => r.state === 'RUNNING') ? 1_000 : 5_000) });
  const start = useMutation(
    trpc.verification.start.mutationOptions({
      onSuccess: (run) => {
        setSelected(run.id);
        void queryClient.invalidateQueries({ queryKey: trpc.verification.runs.queryKey() });
      },
    }),
  );
  const cancel = useMutation(trpc.verification.cancel.mutationOptions());
  useEffect(() => {
    if (selected === null && runs.data?.[0]) setSelected(runs.data[0].id);
  }, [selected, runs.data]);
  const run = runs.data?.find((r) => r.id === selected) ?? null;
  const mismatches = useQuery({ ...trpc.verification.mismatches.queryOptions({ id: selected ?? 1, limit: 200 }), enabled: run !== null && run.state !== 'RUNNING' });
  const running = runs.data?.some((r) => r.state === 'RUNNING') ?? false;

  return (
    <div className="space-y-4 p-6">
      <Card title="Start a run">
        <div className="flex flex-wrap items-center gap-2 text-xs">
          <input aria-label="Only this user's buckets" placeholder="optional: only this user's buckets" value={userId} onChange={(e) => setUserId(e.target.value)} className={`${inputClass} w-64 font-mono`} />
          <Button variant="primary" onClick={() => start.mutate({ userId: userId.trim() || null })} disabled={start.isPending || running}>
            {running ? 'A run is in progress…' : 'Start verification'}
          </Button>
          <span className="text-zinc-500">(a) checksum and op count of every bucket recomputed from the op-log vs bucket_state; (b) every source row re-evaluated and compared with the op-log&apos;s reduced state.</span>
        </div>
        <div className="mt-2">
          <ErrorBox error={start.error} />
        </div>
      </Card>

      {run ? (
        <Card
          title={`Run ${run.id}`}
          testId="verification-run"
          actions={run.state === 'RUNNING' ? <Button variant="danger" onClick={() => cancel.mutate({ id: run.id })}>Cancel</Button> : null}
        >
          <div className="flex flex-wrap items-center gap-4 text-xs">
            <Badge testId="verification-state">{run.state}</Badge>
            <span>version {run.versionId}{run.userId ? ` · user ${run.userId}` : ' · all buckets'}</span>
            <span>phase {run.phase}</span>
            <span>buckets {fmtNumber(run.bucketsChecked)} / {fmtNumber(run.bucketsTotal)}</span>
            <span>source rows {fmtNumber(run.rowsChecked)}</span>
            <span>started {fmtTime(run.startedAt)}{run.finishedAt ? ` · took ${((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1)} s` : ''}</span>
          </div>
          {run.state === 'RUNNING' ? (
            <div className="mt-2 h-1.5 w-full overflow-hidden rounded bg-zinc-100">
              <div className="h-full bg-sky-500 transition-all" style={{ width: `${run.bucketsTotal ? Math.round((run.bucketsChecked / run.bucketsTotal) * (run.phase === 'rows' ? 100 : 50)) : 5}%` }} />
            </div>
          ) : null}
          {run.error ? <div className="mt-2"><ErrorBox error={run.error} /></div> : null}
          {run.state === 'DONE' ? (
            run.checksumMismatches + run.rowMismatches === 0 ? (
              <p data-testid="verification-summary" className="mt-3 text-sm font-medium text-emerald-700">
                No mismatch: {fmtNumber(run.bucketsChecked)} bucket checksums and {fmtNumber(run.rowsChecked)} source rows ({fmtNumber(run.rowBuckets)} buckets) agree with storage.
              </p>
            ) : (
              <p data-testid="verification-summary" className="mt-3 text-sm font-medium text-red-700">
                {fmtNumber(run.checksumMismatches)} checksum mismatch{run.checksumMismatches === 1 ? '' : 'es'}, {fmtNumber(run.rowMismatches)} row mismatch{run.rowMismatches === 1 ? '' : 'es'}.
              </p>
            )
          ) : null}
          {mismatches.data && mismatches.data.mismatches.length > 0 ? (
            <div className="mt-3 overflow-x-auto">
              <table className="w-full text-xs" data-testid="mismatch-report">
                <thead>
                  <tr>
                    <Th>Kind</Th>
                    <Th>Bucket</Th>
                    <Th>Row</Th>
                    <Th>Expected</Th>
                    <Th>Stored</Th>
                  </tr>
                </thead>
                <tbody>
                  {mismatches.data.mismatches.map((m) => (
                    <tr key={m.id} data-testid="mismatch-row">
                      <Td><Badge tone="bg-red-100 text-red-800">{m.kind}</Badge></Td>
                      <Td className="font-mono">{m.bucket}</Td>
                      <Td className="font-mono">{m.table ? `${m.table}/${m.rowId}` : '—'}</Td>
                      <Td className="max-w-sm truncate font-mono" title={m.expected ?? ''}>{m.expected ?? '—'}</Td>
                      <Td className="max-w-sm truncate font-mono" title={m.stored ?? ''}>{m.stored ?? '—'}</Td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {mismatches.data.next ? <p className="mt-1 text-xs text-zinc-500">Showing the first 200; the API pages through the rest.</p> : null}
            </div>
          ) : null}
        </Card>
      ) : null}

      <Card title="History">
        <ErrorBox error={runs.error} />
        {runs.data && runs.data.length === 0 ? <Empty>No verification has run yet.</Empty> : null}
        <table className="w-full text-xs">
          <thead>
            <tr>
              <Th>#</Th>
              <Th>State</Th>
              <Th>Version</Th>
              <Th>Scope</Th>
              <Th className="text-right">Checksum mismatches</Th>
              <Th className="text-right">Row mismatches</Th>
              <Th>Started</Th>
            </tr>
          </thead>
          <tbody>
            {runs.data?.map((r) => (
              <tr key={r.id} onClick={() => setSelected(r.id)} className={`cursor-pointer hover:bg-zinc-50 ${selected === r.id ? 'bg-sky-50' : ''}`} data-testid={`run-row-${r.id}`}>
                <Td className="font-mono">{r.id}</Td>
                <Td><Badge>{r.state}</Badge></Td>
                <Td>{r.versionId}</Td>
                <Td className="font-mono">{r.userId ?? 'all'}</Td>
                <Td className={`text-right tabular-nums ${r.checksumMismatches ? 'text-red-700' : ''}`}>{fmtNumber(r.checksumMismatches)}</Td>
                <Td className={`text-right tabular-nums ${r.rowMismatches ? 'text-red-700' : ''}`}>{fmtNumber(r.rowMismatches)}</Td>
                <Td>{fmtTime(r.startedAt)}</Td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
