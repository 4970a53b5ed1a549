'use client';
/** Version history (state, source: file/api/dashboard/rollback/auto-redeploy, comment, times, snapshot progress, edition and streams), diff of any two, load and roll back. */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Badge, Button, Card, Empty, ErrorBox, fmtNumber, fmtTime, Td, Th } from '@/components/ui.tsx';
import type { inferRouterOutputs } from '@trpc/server';
import type { AdminRouter } from '@/trpc/admin-router.ts';
import { useTRPC } from '@/trpc/react.tsx';
import { DiffView } from './diff-view.tsx';

type Outline = inferRouterOutputs<AdminRouter>['syncRules']['history'][number]['outline'];

/** Edition and each stream / definition with auto_subscribe and priority. */
function StreamChips({ outline, versionId }: { outline: Outline; versionId: number }) {
  return (
    <div className="flex max-w-64 flex-wrap gap-1" data-testid={`version-streams-${versionId}`}>
      <span className="text-[11px] text-zinc-500">ed. {outline.edition}</span>
      {outline.streams.map((s) => (
        <span
          key={s.name}
          className={`rounded px-1 font-mono text-[11px] ${s.kind === 'stream' ? 'bg-indigo-50 text-indigo-800' : 'bg-zinc-100 text-zinc-700'}`}
          title={`${s.kind === 'stream' ? 'stream' : 'bucket definition'} · ${s.autoSubscribe ? 'auto_subscribe' : 'on demand'} · priority ${s.priority ?? 'default (3)'} · ${s.queries} quer${s.queries === 1 ? 'y' : 'ies'}`}
        >
          {s.name}
          {s.kind === 'stream' && s.autoSubscribe ? ' ·auto' : ''}
          {s.priority !== null ? ` ·p${s.priority}` : ''}
        </span>
      ))}
    </div>
  );
}

export function VersionHistory({ onLoad }: { onLoad: (id: number, content: string) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const history = useQuery({ ...trpc.syncRules.history.queryOptions({ limit: 50 }), refetchInterval: 2_000 });
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const diff = useQuery({ ...trpc.syncRules.diff.queryOptions({ from: from ?? 1, to: to ?? 1 }), enabled: from !== null && to !== null && from !== to });
  const rollback = useMutation(
    trpc.syncRules.rollback.mutationOptions({ onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.syncRules.history.queryKey() }) }),
  );
  const load = useMutation({
    mutationFn: async (id: number) => queryClient.fetchQuery(trpc.syncRules.version.queryOptions({ id })),
    onSuccess: (v) => onLoad(v.id, v.content),
  });
  const versions = history.data ?? [];

  return (
    <div className="space-y-4">
      <Card title="Version history" testId="version-history">
        <ErrorBox error={history.error ?? rollback.error ?? load.error} />
        {versions.length === 0 && !history.isLoading ? <Empty>No version deployed yet.</Empty> : null}
        <div className="overflow-x-auto">
        <table className="w-full text-xs">
          <thead>
            <tr>
              <Th>#</Th>
              <Th>State</Th>
              <Th>Source</Th>
              <Th>Comment</Th>
              <Th>Streams</Th>
              <Th>Snapshot</Th>
              <Th>Diff</Th>
              <Th />
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => {
              const s = v.snapshot;
              const progress = v.snapshotDone ? 'done' : s.tablesTotal === 0 ? 'starting' : `${s.tablesDone}/${s.tablesTotal} tables · ${fmtNumber(s.rowsCopied)}${s.rowsEstimated ? ` of ~${fmtNumber(s.rowsEstimated)}` : ''} rows`;
              return (
                <tr key={v.id} data-testid={`version-row-${v.id}`}>
                  <Td className="font-mono">{v.id}</Td>
                  <Td>
                    <Badge testId={`version-state-${v.id}`}>{v.state}</Badge>
                    {v.lastFatalError ? <div className="mt-0.5 max-w-48 truncate text-red-700" title={v.lastFatalError}>{v.lastFatalError}</div> : null}
                  </Td>
                  <Td className="whitespace-nowrap">
                    <Badge testId={`version-source-${v.id}`}>{v.deploySource ?? 'unknown'}</Badge>
                    {v.deployPath ? (
                      <div className="mt-0.5 max-w-40 truncate text-[11px] text-zinc-500" title={v.deploySource === 'file' ? `deployed from ${v.deployPath}` : `the file ${v.deployPath} later matched this version`}>
                        {v.deployPath}
                      </div>
                    ) : null}
                  </Td>
                  <Td>
                    <div className="max-w-56 truncate" title={v.comment ?? ''}>{v.comment ?? <span className="text-zinc-400">—</span>}</div>
                    <div className="text-[11px] text-zinc-500" title={`created ${v.createdAt}${v.activatedAt ? `, activated ${v.activatedAt}` : ''}${v.stoppedAt ? `, stopped ${v.stoppedAt}` : ''}`}>
                      {fmtTime(v.createdAt)}
                      {v.activatedAt ? ` · active ${fmtTime(v.activatedAt).slice(11)}` : ''}
                    </div>
                  </Td>
                  <Td>
                    <StreamChips outline={v.outline} versionId={v.id} />
                  </Td>
                  <Td className="whitespace-nowrap">{progress}</Td>
                  <Td className="whitespace-nowrap">
                    <label className="mr-1" title="diff from">
                      <input type="radio" name="diff-from" aria-label={`Diff from version ${v.id}`} checked={from === v.id} onChange={() => setFrom(v.id)} /> A
                    </label>
                    <label title="diff to">
                      <input type="radio" name="diff-to" aria-label={`Diff to version ${v.id}`} checked={to === v.id} onChange={() => setTo(v.id)} /> B
                    </label>
                  </Td>
                  <Td className="whitespace-nowrap text-right">
                    <Button onClick={() => load.mutate(v.id)} className="mr-1">
                      Edit
                    </Button>
                    {v.state !== 'ACTIVE' && v.state !== 'PROCESSING' ? (
                      <Button onClick={() => rollback.mutate({ id: v.id })} disabled={rollback.isPending} title="Deploy this version's content as a new version">
                        Roll back
                      </Button>
                    ) : null}
                  </Td>
                </tr>
              );
            })}
          </tbody>
        </table>
        </div>
      </Card>
      {from !== null && to !== null && from !== to ? (
        <Card title={`Diff: version ${from} → ${to}`} testId="version-diff">
          <ErrorBox error={diff.error} />
          {diff.data ? <DiffView diff={diff.data} /> : <Empty>Loading…</Empty>}
        </Card>
      ) : (
        <p className="text-xs text-zinc-500">Pick A and B in the history to compare two versions.</p>
      )}
    </div>
  );
}
