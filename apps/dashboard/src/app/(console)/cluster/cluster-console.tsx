'use client';
/** The Cluster page: processes table, active replicator and standbys per version, history charts. */
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { Badge, Card, Empty, ErrorBox, fmtAgo, fmtBytes, fmtNumber, Td, Th } from '@/components/ui.tsx';
import { useTRPC } from '@/trpc/react.tsx';
import { ClusterCharts } from './cluster-charts.tsx';

const STATUS_TONES: Record<string, string> = {
  ready: 'bg-emerald-100 text-emerald-800',
  starting: 'bg-sky-100 text-sky-800',
  draining: 'bg-amber-100 text-amber-800',
  stopped: 'bg-zinc-100 text-zinc-600',
  gone: 'bg-red-100 text-red-800',
};

export function fmtDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${Math.round(seconds % 60)}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d ${Math.floor((seconds % 86400) / 3600)}h`;
}

function fmtLag(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function ClusterConsole() {
  const trpc = useTRPC();
  const overview = useQuery({ ...trpc.cluster.processes.queryOptions(), refetchInterval: 5_000 });
  const o = overview.data;
  const live = o?.processes.filter((p) => p.status !== 'gone' && p.status !== 'stopped') ?? [];
  return (
    <div className="space-y-4 p-6">
      <Card
        title="Processes"
        testId="cluster-processes"
        actions={o ? <span data-testid="cluster-summary" className="text-xs text-zinc-500">{live.length} live · {fmtNumber(o.totalConnections)} connections</span> : null}
      >
        <ErrorBox error={overview.error} />
        {overview.isPending ? <Empty>Loading processes…</Empty> : null}
        {o && o.processes.length === 0 ? (
          <Empty>No process has registered yet. Every sync-api process registers itself at startup and heartbeats every 5 s.</Empty>
        ) : null}
        {o && o.processes.length > 0 ? (
          <div className="overflow-x-auto">
            <table className="w-full text-xs">
              <thead>
                <tr>
                  <Th>Process</Th>
                  <Th>Runner</Th>
                  <Th>Status</Th>
                  <Th>Version</Th>
                  <Th>Host / pid</Th>
                  <Th className="text-right">Uptime</Th>
                  <Th className="text-right">Connections</Th>
                  <Th className="text-right">RSS</Th>
                  <Th className="text-right">Heap</Th>
                  <Th className="text-right">CPU</Th>
                  <Th>Replication</Th>
                  <Th>Heartbeat</Th>
                </tr>
              </thead>
              <tbody>
                {o.processes.map((p) => (
                  <tr key={p.id} data-testid="process-row" data-process={p.name} className={p.status === 'gone' || p.status === 'stopped' ? 'text-zinc-400' : ''}>
                    <Td className="font-mono font-semibold">{p.name}</Td>
                    <Td>{p.runner}</Td>
                    <Td>
                      <Badge tone={STATUS_TONES[p.status]} testId="process-status">
                        {p.status}
                      </Badge>
                    </Td>
                    <Td className="font-mono">{p.version}</Td>
                    <Td className="font-mono">
                      {p.host} / {p.pid}
                    </Td>
                    <Td className="text-right tabular-nums">{fmtDuration(p.uptimeSeconds)}</Td>
                    <Td className="text-right tabular-nums">
                      {p.connections > 0 ? <Link className="underline" href={`/connections?process=${encodeURIComponent(p.id)}`}>{fmtNumber(p.connections)}</Link> : fmtNumber(p.connections)}
                    </Td>
                    <Td className="text-right tabular-nums">{fmtBytes(p.rssBytes)}</Td>
                    <Td className="text-right tabular-nums">{fmtBytes(p.heapUsedBytes)}</Td>
                    <Td className="text-right tabular-nums">{p.cpuPercent.toFixed(1)} %</Td>
                    <Td>
                      {p.activeVersions.length > 0 ? <span>active v{p.activeVersions.join(', v')} · lag {fmtLag(p.replicationLagMs)}</span> : null}
                      {p.standbyVersions.length > 0 ? <span className="text-zinc-500">standby v{p.standbyVersions.join(', v')}</span> : null}
                      {p.activeVersions.length === 0 && p.standbyVersions.length === 0 ? '—' : null}
                    </Td>
                    <Td title={p.heartbeatAt}>{fmtAgo(p.heartbeatAt)}</Td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Card>

      <Card title="Replicators" testId="cluster-replicators">
        {o && o.versions.length === 0 ? <Empty>No sync rules deployed: nothing to replicate.</Empty> : null}
        <div className="space-y-1 text-xs">
          {o?.versions.map((v) => (
            <div key={v.versionId} data-testid="version-replicators" className="flex flex-wrap items-center gap-2 rounded border border-zinc-100 p-2">
              <span className="font-semibold">Version {v.versionId}</span>
              <Badge>{v.state}</Badge>
              {v.active ? (
                <span data-testid="active-replicator">
                  active: <span className="font-mono font-semibold">{v.active.name}</span> · lag {fmtLag(v.active.lagMs)}
                </span>
              ) : (
                <Badge tone="bg-red-100 text-red-800" testId="no-active-replicator">
                  no active replicator (failover in progress, or no replicator process running)
                </Badge>
              )}
              <span data-testid="standby-replicators" className="text-zinc-600">
                standby: {v.standbys.length ? v.standbys.map((s) => s.name).join(', ') : 'none'}
              </span>
              {v.conflicting.length > 0 ? <Badge tone="bg-red-100 text-red-800">claimed by several processes: {v.conflicting.join(', ')}</Badge> : null}
            </div>
          ))}
        </div>
      </Card>

      <ClusterCharts />
    </div>
  );
}
