'use client';
/** User form (claims, client parameters, stream subscriptions) → buckets per subscription → ops; row lookup and "why (not)"; dev token to reproduce the client. */
import { useState } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { BucketOps } from '@/components/bucket-ops.tsx';
import { SubscriptionList, toSubscriptions, type Subscription, type SubscriptionDraft } from '@/components/subscription-list.tsx';
import { Badge, Button, Card, Empty, ErrorBox, fmtBytes, fmtNumber, inputClass, parseJsonObject, Td, Th } from '@/components/ui.tsx';
import type { inferRouterOutputs } from '@trpc/server';
import type { AdminRouter } from '@/trpc/admin-router.ts';
import { useTRPC } from '@/trpc/react.tsx';
import { RowExplainer } from './row-explainer.tsx';

export interface UserInput {
  userId: string;
  claims: Record<string, unknown>;
  clientParameters: Record<string, unknown>;
  subscriptions: Subscription[];
  includeDefaults: boolean;
}

type Inspection = inferRouterOutputs<AdminRouter>['users']['inspect'];

/** Per explicit subscription and per default stream: buckets, reason, priority, errors. */
function SubscriptionTable({ data }: { data: Inspection }) {
  if (data.subscriptions.length === 0 && data.defaults.length === 0) return null;
  return (
    <div className="mt-3 overflow-x-auto" data-testid="user-subscriptions">
      <h3 className="mb-1 text-xs font-medium text-zinc-700">
        Subscriptions{data.includeDefaults ? '' : ' (default streams dropped: include_defaults false)'}
      </h3>
      <table className="w-full text-xs">
        <thead>
          <tr>
            <Th>Reason</Th>
            <Th>Stream</Th>
            <Th>Parameters</Th>
            <Th className="text-right">Priority</Th>
            <Th>Buckets</Th>
            <Th>Errors</Th>
          </tr>
        </thead>
        <tbody>
          {data.subscriptions.map((s) => (
            <tr key={`sub-${s.index}`} data-testid="subscription-row">
              <Td className="font-mono">sub {s.index}</Td>
              <Td className="font-mono">
                {s.stream}
                {!s.known ? <Badge tone="bg-amber-100 text-amber-800">unknown stream (ignored)</Badge> : null}
              </Td>
              <Td className="font-mono">{JSON.stringify(s.parameters)}</Td>
              <Td className="text-right tabular-nums">{s.priority ?? '—'}{s.overridePriority !== null ? ` (override ${s.overridePriority})` : ''}</Td>
              <Td className="font-mono">{s.buckets.length ? s.buckets.join(', ') : <span className="text-zinc-400">no buckets</span>}</Td>
              <Td className="text-red-700">{s.errors.join('; ')}</Td>
            </tr>
          ))}
          {data.defaults.map((d) => (
            <tr key={`default-${d.stream}`} data-testid="subscription-row">
              <Td className="font-mono">default</Td>
              <Td className="font-mono">{d.stream}</Td>
              <Td className="font-mono text-zinc-400">null</Td>
              <Td className="text-right tabular-nums">{d.buckets.length ? Math.min(...data.buckets.filter((b) => d.buckets.includes(b.bucket)).map((b) => b.priority)) : '—'}</Td>
              <Td className="font-mono">{d.buckets.length ? d.buckets.join(', ') : <span className="text-zinc-400">no buckets</span>}</Td>
              <Td className="text-red-700">{d.errors.join('; ')}</Td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function UserInspector() {
  const trpc = useTRPC();
  const [userId, setUserId] = useState('');
  const [claims, setClaims] = useState('');
  const [params, setParams] = useState('');
  const [subs, setSubs] = useState<SubscriptionDraft[]>([]);
  const [includeDefaults, setIncludeDefaults] = useState(true);
  const [formError, setFormError] = useState<string | null>(null);
  const [user, setUser] = useState<UserInput | null>(null);
  const [bucket, setBucket] = useState<string | null>(null);
  const inspect = useQuery({ ...trpc.users.inspect.queryOptions(user ?? { userId: '-' }), enabled: user !== null });
  const devToken = useMutation(trpc.users.devToken.mutationOptions());

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    try {
      setUser({ userId: userId.trim(), claims: parseJsonObject(claims, 'Claims'), clientParameters: parseJsonObject(params, 'Client parameters'), subscriptions: toSubscriptions(subs), includeDefaults });
      setFormError(null);
      setBucket(null);
      devToken.reset();
    } catch (err) {
      setFormError((err as Error).message);
    }
  };
  const data = inspect.data;

  return (
    <div className="space-y-4 p-6">
      <Card title="User">
        <form onSubmit={submit} className="flex flex-wrap items-end gap-2 text-xs">
          <label className="flex flex-col gap-1">
            <span className="text-zinc-600">User id (JWT sub)</span>
            <input aria-label="User id" required value={userId} onChange={(e) => setUserId(e.target.value)} className={`${inputClass} w-48 font-mono`} placeholder="user-1" />
          </label>
          <label className="flex flex-col gap-1">
            <span className="text-zinc-600">Extra JWT claims (JSON)</span>
            <input aria-label="Extra JWT claims" value={claims} onChange={(e) => setClaims(e.target.value)} className={`${inputClass} w-64 font-mono`} placeholder='{"role": "admin"}' />
          </label>
          <label className="flex flex-col gap-1">
            <span className="text-zinc-600">Client parameters (JSON)</span>
            <input aria-label="Client parameters" value={params} onChange={(e) => setParams(e.target.value)} className={`${inputClass} w-64 font-mono`} placeholder='{"project": "p1"}' />
          </label>
          <label className="flex items-center gap-1 self-center">
            <input type="checkbox" aria-label="Include default streams" checked={includeDefaults} onChange={(e) => setIncludeDefaults(e.target.checked)} />
            <span className="text-zinc-600">include default streams</span>
          </label>
          <Button type="submit" variant="primary">
            Inspect
          </Button>
          {user ? (
            <Button onClick={() => devToken.mutate({ userId: user.userId, claims: user.claims })} disabled={devToken.isPending}>
              Mint dev token
            </Button>
          ) : null}
          <div className="basis-full">
            <span className="text-zinc-600">Stream subscriptions (as the client sends them)</span>
            <SubscriptionList value={subs} onChange={setSubs} />
          </div>
        </form>
        <div className="mt-2 space-y-2">
          <ErrorBox error={formError} />
          <ErrorBox error={devToken.error} />
        </div>
        {devToken.data ? (
          <div className="mt-2 rounded border border-zinc-200 bg-zinc-50 p-2 text-xs">
            <p className="text-zinc-600">
              Dev token for <span className="font-mono">{devToken.data.userId}</span>, valid until {new Date(devToken.data.expiresAt * 1000).toISOString().slice(0, 19)} UTC. Use it in a client&apos;s
              <code className="mx-1 font-mono">fetchCredentials</code>to reproduce what this user sees:
            </p>
            <textarea readOnly aria-label="Dev token" value={devToken.data.token} className="mt-1 h-14 w-full resize-none rounded border border-zinc-200 bg-white p-1 font-mono text-[11px]" onFocus={(e) => e.currentTarget.select()} />
          </div>
        ) : null}
      </Card>

      {user ? (
        <Card title={`Buckets of ${user.userId}`} testId="user-buckets" actions={data ? <span className="text-xs text-zinc-500">version {data.versionId} · checkpoint {data.checkpoint ?? '—'}</span> : null}>
          <ErrorBox error={inspect.error} />
          {data?.error ? <ErrorBox error={`This user would be refused: ${data.error}`} /> : null}
          {data && data.buckets.length === 0 && !data.error ? <Empty>This user gets no buckets.</Empty> : null}
          {data && data.buckets.length > 0 ? (
            <div className="overflow-x-auto">
              <table className="w-full text-xs">
                <thead>
                  <tr>
                    <Th>Bucket</Th>
                    <Th>Stream</Th>
                    <Th>Reasons</Th>
                    <Th className="text-right">Priority</Th>
                    <Th className="text-right">Ops</Th>
                    <Th className="text-right">Live rows</Th>
                    <Th className="text-right">Checksum</Th>
                    <Th className="text-right">Size</Th>
                    <Th />
                  </tr>
                </thead>
                <tbody>
                  {data.buckets.map((b) => (
                    <tr key={b.bucket} data-testid="user-bucket-row" className={bucket === b.bucket ? 'bg-sky-50' : ''}>
                      <Td className="font-mono">{b.bucket}</Td>
                      <Td className="font-mono">{b.stream}</Td>
                      <Td className="whitespace-nowrap font-mono">{b.reasons.join(', ')}</Td>
                      <Td className="text-right tabular-nums">{b.priority}</Td>
                      <Td className="text-right tabular-nums">{fmtNumber(b.opCount)}</Td>
                      <Td className="text-right tabular-nums">{fmtNumber(b.liveRows)}</Td>
                      <Td className="text-right font-mono tabular-nums">{b.checksum}</Td>
                      <Td className="text-right tabular-nums">{fmtBytes(b.bytes)}</Td>
                      <Td className="text-right">
                        <Button onClick={() => setBucket(b.bucket)}>Ops</Button>
                      </Td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
          {data ? <SubscriptionTable data={data} /> : null}
          {data && data.lookups.length > 0 ? (
            <details className="mt-3 text-xs" open>
              <summary className="cursor-pointer font-medium text-zinc-700">Parameter lookups evaluated ({data.lookups.length})</summary>
              <ul className="mt-1 space-y-0.5 font-mono text-zinc-700">
                {data.lookups.map((l) => (
                  <li key={l.key}>
                    {l.definition ?? '?'} · query {l.queryId ?? '?'} · values {JSON.stringify(l.values)} → {l.results.length} row(s) {l.results.length ? JSON.stringify(l.results.slice(0, 20)) : ''}
                    {l.sources.length ? <span className="text-zinc-500"> · from {l.sources.slice(0, 20).map((r) => `${r.table} ${r.id}`).join(', ')}{l.sources.length > 20 ? ` and ${l.sources.length - 20} more` : ''}</span> : null}
                  </li>
                ))}
              </ul>
            </details>
          ) : null}
        </Card>
      ) : null}

      {user && bucket ? <BucketOps bucket={bucket} versionId={data?.versionId ?? null} onClose={() => setBucket(null)} /> : null}

      <RowExplainer user={user} />
    </div>
  );
}
