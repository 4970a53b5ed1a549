import type { Metadata } from 'next';
import { AutoRefresh } from '@/components/auto-refresh.tsx';
import { PageHeader } from '@/components/page-header.tsx';
import { checkSyncApiHealth } from '@/lib/probes.ts';
import { ProbeCard } from './probe-card.tsx';
import { ReplicationHealth } from './replication-health.tsx';

export const metadata: Metadata = { title: 'Overview' };
export const dynamic = 'force-dynamic';

export default async function OverviewPage() {
  const health = await checkSyncApiHealth();
  const unreachable = health.liveness.state === 'unreachable' && health.readiness.state === 'unreachable';
  return (
    <>
      <PageHeader
        title="Overview"
        description="Health of the sync API this dashboard manages."
        actions={
          <>
            <span className="text-xs text-zinc-500">
              checked <time dateTime={health.checkedAt.toISOString()}>{health.checkedAt.toISOString().slice(11, 19)} UTC</time>
            </span>
            <AutoRefresh intervalMs={10_000} />
          </>
        }
      />
      <section className="space-y-4 p-6">
        {unreachable ? (
          <div role="alert" data-testid="sync-api-unreachable" className="rounded-md border border-red-200 bg-red-50 px-4 py-3 text-red-900">
            <p className="font-medium">
              Sync API unreachable at <code className="font-mono">{health.url}</code>
            </p>
            <p className="mt-1 text-red-800">
              Is it running? Start everything with <code className="font-mono">npm start</code>, or point the dashboard at it
              with <code className="font-mono">SYNC_API_URL</code>.
            </p>
          </div>
        ) : null}
        <div className="grid max-w-5xl gap-4 md:grid-cols-2">
          <ProbeCard title="Liveness" path="/probes/liveness" outcome={health.liveness} upLabel="live" downLabel="not live" testId="liveness-status" />
          <ProbeCard title="Readiness" path="/probes/readiness" outcome={health.readiness} upLabel="ready" downLabel="not ready" testId="readiness-status" />
        </div>
        {unreachable ? null : (
          <div className="max-w-5xl">
            <ReplicationHealth />
          </div>
        )}
      </section>
    </>
  );
}
