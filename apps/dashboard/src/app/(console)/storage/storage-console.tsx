'use client';
/**
 * Op-log fragmentation of the served version (totals, buckets ranked by ops per live row and by
 * size), "Compact now" (every fragmented bucket, or the selected ones) with progress and result,
 * Defragment per bucket, and the scheduled Compactor's last run.
 */
import { useEffect, useState } from 'react';
import type { inferRouterOutputs } from '@trpc/server';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Badge, Button, Card, Empty, ErrorBox, fmtAgo, fmtBytes, fmtNumber, fmtTime, Td, Th } from '@/components/ui.tsx';
import type { AdminRouter } from '@/trpc/admin-router.ts';
import { useTRPC } from '@/trpc/react.tsx';

type Outputs = inferRouterOutputs<AdminRouter>['compaction'];
type Entry = Outputs['fragmentation']['byRatio'][number];

const LIMIT = 50;

function fmtRatio(n: number): string {
  return n.toFixed(n >= 100 ? 0 : 2);
}

function ratioTone(n: number): string {
  if (n > 10) return 'text-red-700 font-semibold';
  if (n > 2) return 'text-amber-700 font-semibold';
  return '';
}

/** Seconds since `since` while it is set (re-renders every second). */
function useElapsed(since: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (since === null) return;
    const t = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(t);
  }, [since]);
  return since === null ? 0 : Math.max(0, Math.round((now - since) / 1000));
}

export function StorageConsole() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [startedAt, setStartedAt] = useState<number | null>(null);
  const [defragging, setDefragging] = useState<string | null>(null);

  const report = useQuery({ ...trpc.compaction.fragmentation.queryOptions({ limit: LIMIT }), refetchInterval: 5_000 });
  const status = useQuery({ ...trpc.compaction.status.queryOptions(), refetchInterval: (q) => (q.state.data?.running ? 1_000 : 5_000) });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.compaction.fragmentation.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.compaction.status.queryKey() });
  };
  const compact = useMutation(
    trpc.compaction.compactNow.mutationOptions({
      onMutate: () => setStartedAt(Date.now()),
      onSettled: () => {
        setStartedAt(null);
        refresh();
      },
      onSuccess: () => setSelected(new Set()),
    }),
  );
  const defragment = useMutation(
    trpc.compaction.defragment.mutationOptions({
      onMutate: ({ bucket }) => {
        setDefragging(bucket);
        setStartedAt(Date.now());
      },
      onSettled: () => {
        setDefragging(null);
        setStartedAt(null);
        refresh();
      },
    }),
  );
  const elapsed = useElapsed(startedAt);
  const busy = compact.isPending || defragment.isPending || (status.data?.running ?? false);

  const toggle = (bucket: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(bucket)) next.delete(bucket);
      else next.add(bucket);
      return next;
    });

  const data = report.data;
  const last = status.data?.lastRun ?? null;

  return (
    <div className="space-y-4 p-6">
      <Card
        title="Compaction"
        testId="compactor"
        actions={
          <>
            {selected.size > 0 ? (
              <>
                <span className="text-xs text-zinc-500" data-testid="selected-count">{selected.size} selected</span>
                <Button onClick={() => setSelected(new Set())} disabled={compact.isPending}>Clear selection</Button>
              </>
            ) : null}
            <Button variant="primary" onClick={() => compact.mutate({ buckets: selected.size > 0 ? [...selected] : null })} disabled={busy}>
              Compact now
            </Button>
          </>
        }
      >
        <div className="flex flex-wrap items-center gap-4 text-xs" data-testid="compactor-status">
          {status.data ? (
            <>
              <Badge tone={status.data.running ? 'bg-sky-100 text-sky-800' : 'bg-zinc-100 text-zinc-700'}>{status.data.running ? 'RUNNING' : 'IDLE'}</Badge>
              <span>{status.data.scheduled ? 'scheduled runs in this process' : 'no scheduled compactor in this process (API-only runner)'}</span>
              <span data-testid="last-run">
                {last
                  ? `last run ${fmtAgo(last.at)} (${fmtTime(last.at)}) · version ${last.versionId} · ${fmtNumber(last.buckets)} buckets · ${fmtNumber(last.moved)} moved · ${fmtNumber(last.removed)} removed · ${fmtNumber(last.durationMs)} ms`
                  : 'no run since this process started'}
              </span>
            </>
          ) : null}
        </div>
        <p className="mt-1 text-xs text-zinc-500">
          Compact now rewrites superseded ops to MOVE and merges the op-log prefix into one CLEAR, up to the current checkpoint: the selected buckets, or else every bucket with at least 100 ops and more than 2 ops per live row. Defragment re-emits a bucket&apos;s live rows so compaction can clear a prefix blocked by an old live row.
        </p>
        {status.data?.lastError ? <div className="mt-2"><ErrorBox error={`Last scheduled run failed: ${status.data.lastError}`} /></div> : null}
        <ErrorBox error={status.error} />
        {compact.isPending || defragment.isPending ? (
          <div className="mt-2" data-testid="compaction-progress">
            <p className="text-xs text-sky-800">
              {compact.isPending ? `Compacting ${selected.size > 0 ? `${selected.size} selected bucket${selected.size === 1 ? '' : 's'}` : 'fragmented buckets'}…` : `Defragmenting ${defragging ?? ''}…`} {elapsed} s
            </p>
            <div className="mt-1 h-1.5 w-full overflow-hidden rounded bg-zinc-100">
              <div className="h-full w-1/3 animate-pulse bg-sky-500" />
            </div>
          </div>
        ) : null}
        <div className="mt-2 space-y-2">
          <ErrorBox error={compact.error} />
          <ErrorBox error={defragment.error} />
        </div>
        {compact.data && !compact.isPending ? <CompactResult result={compact.data} /> : null}
        {defragment.data && !defragment.isPending ? (
          <p className="mt-2 text-xs font-medium text-emerald-700" data-testid="defragment-result">
            Defragmented <span className="font-mono">{defragment.data.bucket}</span>: {fmtNumber(defragment.data.rowsEmitted)} live rows re-emitted
            {defragment.data.after
              ? `, then ${fmtNumber(defragment.data.before.removed + defragment.data.after.removed)} ops removed`
              : defragment.data.checkpoint === null
                ? '; the next checkpoint makes them visible, the next compaction clears the old ops'
                : ''}
            .
          </p>
        ) : null}
      </Card>

      <Card title="Totals" testId="fragmentation-totals" actions={data ? <span className="text-xs text-zinc-500">version {data.versionId} · checkpoint {data.checkpoint ?? '—'}</span> : null}>
        <ErrorBox error={report.error} />
        {data ? (
          <dl className="grid grid-cols-2 gap-3 text-xs sm:grid-cols-5">
            <Stat label="Buckets" value={fmtNumber(data.totals.buckets)} testId="total-buckets" />
            <Stat label="Ops" value={fmtNumber(data.totals.ops)} testId="total-ops" />
            <Stat label="Live rows" value={fmtNumber(data.totals.liveRows)} testId="total-live-rows" />
            <Stat label="Ops per live row" value={fmtRatio(data.totals.ops / Math.max(data.totals.liveRows, 1))} testId="total-ratio" />
            <Stat label="Size" value={fmtBytes(data.totals.bytes)} testId="total-bytes" />
          </dl>
        ) : null}
      </Card>

      <FragmentationTable
        title="Most fragmented (ops per live row)"
        testId="by-ratio"
        entries={data?.byRatio}
        selected={selected}
        onToggle={toggle}
        onDefragment={(bucket) => defragment.mutate({ bucket })}
        busy={busy}
        defragging={defragging}
      />
      <FragmentationTable
        title="Largest (bytes)"
        testId="by-size"
        entries={data?.bySize}
        selected={selected}
        onToggle={toggle}
        onDefragment={(bucket) => defragment.mutate({ bucket })}
        busy={busy}
        defragging={defragging}
      />
    </div>
  );
}

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div>
      <dt className="text-[11px] uppercase tracking-wide text-zinc-500">{label}</dt>
      <dd className="text-base font-semibold tabular-nums" data-testid={testId}>{value}</dd>
    </div>
  );
}

function CompactResult({ result }: { result: Outputs['compactNow'] }) {
  const { totals } = result;
  return (
    <div className="mt-2" data-testid="compaction-result">
      <p className="text-xs font-medium text-emerald-700">
        {totals.buckets === 0
          ? `Nothing to compact in version ${result.versionId}: no bucket is fragmented enough.`
          : `Compacted ${fmtNumber(totals.buckets)} bucket${totals.buckets === 1 ? '' : 's'} of version ${result.versionId} up to checkpoint ${result.checkpoint}: ${fmtNumber(totals.moved)} ops rewritten to MOVE, ${fmtNumber(totals.removed)} removed, ${fmtBytes(totals.bytesFreed)} freed in ${fmtNumber(result.durationMs)} ms.`}
        {result.parameters ? ` Parameter index: ${fmtNumber(result.parameters.deleted)} stale entries deleted.` : ''}
      </p>
      {result.buckets.length > 0 ? (
        <table className="mt-1 w-full text-xs">
          <thead>
            <tr>
              <Th>Bucket</Th>
              <Th className="text-right">Scanned</Th>
              <Th className="text-right">Moved</Th>
              <Th className="text-right">Removed</Th>
              <Th className="text-right">Freed</Th>
            </tr>
          </thead>
          <tbody>
            {result.buckets.slice(0, 20).map((b) => (
              <tr key={b.bucket} data-testid="compacted-bucket">
                <Td className="font-mono">{b.bucket}</Td>
                <Td className="text-right tabular-nums">{fmtNumber(b.scanned)}</Td>
                <Td className="text-right tabular-nums">{fmtNumber(b.moved)}</Td>
                <Td className="text-right tabular-nums">{fmtNumber(b.removed)}</Td>
                <Td className="text-right tabular-nums">{fmtBytes(b.bytesFreed)}</Td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {result.buckets.length > 20 ? <p className="mt-1 text-xs text-zinc-500">and {fmtNumber(result.buckets.length - 20)} more.</p> : null}
    </div>
  );
}

function FragmentationTable(props: {
  title: string;
  testId: string;
  entries: Entry[] | undefined;
  selected: ReadonlySet<string>;
  onToggle: (bucket: string) => void;
  onDefragment: (bucket: string) => void;
  busy: boolean;
  defragging: string | null;
}) {
  const { entries } = props;
  return (
    <Card title={props.title} testId={props.testId}>
      {entries && entries.length === 0 ? <Empty>No buckets in this version.</Empty> : null}
      <div className="overflow-x-auto">
        <table className="w-full text-xs">
          <thead>
            <tr>
              <Th />
              <Th>Bucket</Th>
              <Th className="text-right">Ops</Th>
              <Th className="text-right">Live rows</Th>
              <Th className="text-right">Ops / live row</Th>
              <Th className="text-right">Size</Th>
              <Th className="text-right">Last op</Th>
              <Th>Compacted</Th>
              <Th />
            </tr>
          </thead>
          <tbody>
            {entries?.map((e) => (
              <tr key={e.bucket} data-testid="fragmentation-row" data-bucket={e.bucket} className={props.selected.has(e.bucket) ? 'bg-sky-50' : ''}>
                <Td>
                  <input type="checkbox" aria-label={`Select ${e.bucket}`} checked={props.selected.has(e.bucket)} onChange={() => props.onToggle(e.bucket)} />
                </Td>
                <Td className="font-mono">{e.bucket}</Td>
                <Td className="text-right tabular-nums"><span data-testid="op-count" data-value={e.opCount}>{fmtNumber(e.opCount)}</span></Td>
                <Td className="text-right tabular-nums">{fmtNumber(e.liveRows)}</Td>
                <Td className={`text-right tabular-nums ${ratioTone(e.opsPerLiveRow)}`}><span data-testid="ops-per-row" data-value={e.opsPerLiveRow}>{fmtRatio(e.opsPerLiveRow)}</span></Td>
                <Td className="text-right tabular-nums">{fmtBytes(e.bytes)}</Td>
                <Td className="text-right font-mono tabular-nums">{e.lastOp}</Td>
                <Td title={e.compactedAt ?? undefined}>{e.compactedAt ? fmtAgo(e.compactedAt) : 'never'}</Td>
                <Td className="text-right">
                  <Button onClick={() => props.onDefragment(e.bucket)} disabled={props.busy}>
                    {props.defragging === e.bucket ? 'Defragmenting…' : 'Defragment'}
                  </Button>
                </Td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}
