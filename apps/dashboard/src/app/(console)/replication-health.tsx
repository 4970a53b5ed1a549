'use client';
/** Replication state per version with lag, WAL, counters, and sparklines from persisted samples. */
import { useQuery } from '@tanstack/react-query';
import { Line, LineChart, ResponsiveContainer, Tooltip, YAxis } from 'recharts';
import { Badge, Card, Empty, ErrorBox, fmtBytes, fmtNumber, fmtTime } from '@/components/ui.tsx';
import { useTRPC } from '@/trpc/react.tsx';

type Sample = { at: string; opsWritten: number; opsSynced: number; connections: number; lagSeconds: number | null; lagBytes: number | null };

/** Per-second rates from consecutive counter samples (resets clamp to 0). */
function rates(samples: Sample[], key: 'opsWritten' | 'opsSynced'): Array<{ t: string; v: number }> {
  const out: Array<{ t: string; v: number }> = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const dt = (Date.parse(b.at) - Date.parse(a.at)) / 1000;
    out.push({ t: b.at, v: dt > 0 ? Math.max(0, (b[key] - a[key]) / dt) : 0 });
  }
  return out;
}

function Spark({ title, data, unit, testId }: { title: string; data: Array<{ t: string; v: number | null }>; unit: string; testId: string }) {
  const last = data[data.length - 1]?.v ?? null;
  return (
    <div data-testid={testId} className="rounded border border-zinc-200 bg-white p-2">
      <div className="flex items-baseline justify-between text-xs">
        <span className="text-zinc-500">{title}</span>
        <span className="font-semibold tabular-nums">{last === null ? '—' : `${fmtNumber(Math.round(last * 10) / 10)} ${unit}`}</span>
      </div>
      <div className="h-12">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={data}>
            <YAxis hide domain={[0, 'auto']} />
            <Tooltip labelFormatter={(_, p) => fmtTime(p?.[0]?.payload?.t as string | undefined)} formatter={(v) => [`${v} ${unit}`, title]} />
            <Line type="monotone" dataKey="v" stroke="#0284c7" strokeWidth={1.5} dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </div>
    </div>
  );
}

/** Invalidation risk of a slot (max_slot_wal_keep_size): warns before, and says so after. */
function SlotRiskBadge({ risk }: { risk: 'ok' | 'warning' | 'critical' | 'lost' | 'unknown' }) {
  if (risk === 'ok' || risk === 'unknown') return null;
  const text = { warning: 'slot WAL > 50 % of budget', critical: 'slot about to be invalidated', lost: 'slot invalidated: re-snapshotting' }[risk];
  const tone = risk === 'warning' ? 'bg-amber-100 text-amber-800' : 'bg-red-100 text-red-800';
  return (
    <Badge tone={tone} testId="slot-risk">
      {text}
    </Badge>
  );
}

export function ReplicationHealth() {
  const trpc = useTRPC();
  const health = useQuery({ ...trpc.health.replication.queryOptions(), refetchInterval: 5_000 });
  const samples = useQuery({ ...trpc.health.samples.queryOptions({ minutes: 60 }), refetchInterval: 15_000 });
  const s = samples.data ?? [];
  return (
    <Card title="Replication" testId="replication-health">
      <ErrorBox error={health.error} />
      {health.data && health.data.versions.length === 0 ? <Empty>No sync rules deployed.</Empty> : null}
      <div className="space-y-2">
        {health.data?.versions.map((v) => (
          <div key={v.versionId} className="grid grid-cols-2 gap-x-6 gap-y-1 rounded border border-zinc-100 p-2 text-xs md:grid-cols-4">
            <div className="col-span-2 flex items-center gap-2 md:col-span-4">
              <span className="font-semibold">Version {v.versionId}</span>
              <Badge>{v.state}</Badge>
              <span className="font-mono text-zinc-500">{v.slotName}</span>
              {v.slotActive === false ? <Badge tone="bg-amber-100 text-amber-800">slot inactive</Badge> : null}
              <SlotRiskBadge risk={v.slotRisk} />
            </div>
            <div>Snapshot: {v.snapshotDone ? 'done' : `${v.snapshot.tablesDone}/${v.snapshot.tablesTotal} tables, ${fmtNumber(v.snapshot.rowsCopied)} rows`}</div>
            <div data-testid="lag-seconds">Lag: {v.lagSeconds === null ? '—' : `${v.lagSeconds} s`} · {fmtBytes(v.lagBytes)}</div>
            <div data-testid="wal-retained">
              WAL retained: {fmtBytes(v.walRetainedBytes)}
              {v.walBudgetBytes !== null ? ` of ${fmtBytes(v.walBudgetBytes)} budget · safe ${fmtBytes(v.safeWalBytes)}` : ' (no budget)'}
              {v.walStatus ? ` · ${v.walStatus}` : ''}
            </div>
            <div>Checkpoint: <span className="font-mono">{v.lastCheckpoint ?? '—'}</span> @ <span className="font-mono">{v.lastCheckpointLsn ?? '—'}</span></div>
            <div>Rows replicated: {fmtNumber(v.rowsReplicated)}</div>
            <div>Ops written: {fmtNumber(v.opsWritten)}</div>
            <div>Transactions: {fmtNumber(v.transactions)}</div>
            <div>Last commit: {fmtTime(v.lastCommitAt)}</div>
            {v.lastFatalError ? <div className="col-span-2 text-red-700 md:col-span-4">Last error: {v.lastFatalError}</div> : null}
          </div>
        ))}
      </div>
      <div className="mt-3 grid gap-2 md:grid-cols-4">
        <Spark testId="spark-replication" title="Replication ops/s" unit="ops/s" data={rates(s, 'opsWritten')} />
        <Spark testId="spark-synced" title="Synced ops/s" unit="ops/s" data={rates(s, 'opsSynced')} />
        <Spark testId="spark-connections" title="Connections" unit="" data={s.map((x) => ({ t: x.at, v: x.connections }))} />
        <Spark testId="spark-lag" title="Lag" unit="s" data={s.map((x) => ({ t: x.at, v: x.lagSeconds }))} />
      </div>
      <p className="mt-1 text-[11px] text-zinc-400">Last hour, sampled every 15 s by the sync API ({s.length} samples).</p>
    </Card>
  );
}
