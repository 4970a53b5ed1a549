'use client';
/** History of every process (connections, memory, CPU, replication lag) as recharts line charts. */
import { useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { Card, Empty, ErrorBox, fmtBytes, inputClass } from '@/components/ui.tsx';
import { useTRPC } from '@/trpc/react.tsx';

const COLORS = ['#0284c7', '#16a34a', '#d97706', '#9333ea', '#dc2626', '#0891b2', '#4f46e5', '#65a30d'];
type Metric = 'connections' | 'rssBytes' | 'cpuPercent' | 'replicationLagMs';
type Bucket = { t: string; byProcess: Record<string, Record<Metric, number | null> & Record<string, number | null>> };

function series(buckets: readonly Bucket[], metric: Metric): Array<Record<string, number | string | null>> {
  return buckets.map((b) => {
    const row: Record<string, number | string | null> = { t: b.t };
    for (const [id, p] of Object.entries(b.byProcess)) row[id] = p[metric] ?? null;
    return row;
  });
}

const hhmm = (iso: string) => iso.slice(11, 16);

function Chart({ title, metric, buckets, processes, format, testId }: { title: string; metric: Metric; buckets: readonly Bucket[]; processes: Array<{ id: string; name: string }>; format: (v: number) => string; testId: string }) {
  const data = series(buckets, metric);
  const shown = processes.filter((p) => data.some((r) => typeof r[p.id] === 'number'));
  return (
    <div data-testid={testId} className="rounded border border-zinc-200 bg-white p-2">
      <div className="mb-1 text-xs text-zinc-500">{title}</div>
      {shown.length === 0 ? (
        <Empty>No data in this window{metric === 'replicationLagMs' ? ' (only replicating processes report lag, after their first streamed transaction)' : ''}.</Empty>
      ) : (
        <div className="h-48">
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
              <CartesianGrid stroke="#f4f4f5" />
              <XAxis dataKey="t" tickFormatter={hhmm} tick={{ fontSize: 10 }} minTickGap={24} />
              <YAxis tickFormatter={(v: number) => format(v)} tick={{ fontSize: 10 }} width={64} domain={[0, 'auto']} allowDecimals={metric !== 'connections'} />
              <Tooltip labelFormatter={(l) => String(l).replace('T', ' ').slice(0, 19)} formatter={(v, id) => [format(Number(v)), processes.find((p) => p.id === id)?.name ?? String(id)]} />
              <Legend formatter={(id) => processes.find((p) => p.id === id)?.name ?? String(id)} wrapperStyle={{ fontSize: 11 }} />
              {shown.map((p, i) => (
                <Line key={p.id} type="monotone" dataKey={p.id} name={p.id} stroke={COLORS[i % COLORS.length]} strokeWidth={1.5} dot={false} isAnimationActive={false} connectNulls={false} />
              ))}
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
    </div>
  );
}

export function ClusterCharts() {
  const trpc = useTRPC();
  const [minutes, setMinutes] = useState(60);
  const history = useQuery({ ...trpc.cluster.history.queryOptions({ minutes, points: 120 }), refetchInterval: 10_000, placeholderData: keepPreviousData });
  const h = history.data;
  const buckets = (h?.buckets ?? []) as Bucket[];
  const processes = h?.processes ?? [];
  return (
    <Card
      title="History"
      testId="cluster-history"
      actions={
        <select aria-label="History window" value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} className={inputClass}>
          <option value={15}>15 minutes</option>
          <option value={60}>1 hour</option>
          <option value={360}>6 hours</option>
          <option value={1440}>24 hours</option>
        </select>
      }
    >
      <ErrorBox error={history.error} />
      {h && buckets.length === 0 ? <Empty>No samples yet: processes write one every 10 s.</Empty> : null}
      {buckets.length > 0 ? (
        <div className="grid gap-2 lg:grid-cols-2">
          <Chart testId="chart-connections" title="Connections" metric="connections" buckets={buckets} processes={processes} format={(v) => String(Math.round(v))} />
          <Chart testId="chart-memory" title="Memory (RSS)" metric="rssBytes" buckets={buckets} processes={processes} format={(v) => fmtBytes(v)} />
          <Chart testId="chart-cpu" title="CPU (% of one core)" metric="cpuPercent" buckets={buckets} processes={processes} format={(v) => `${v.toFixed(1)} %`} />
          <Chart testId="chart-lag" title="Replication lag" metric="replicationLagMs" buckets={buckets} processes={processes} format={(v) => `${Math.round(v)} ms`} />
        </div>
      ) : null}
      {h ? <p className="mt-1 text-[11px] text-zinc-400">Last {h.minutes} min, {h.bucketSeconds} s per point, {processes.length} processes.</p> : null}
    </Card>
  );
}
