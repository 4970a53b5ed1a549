'use client';
/** Editor (validate as you type), impact preview, deploy; version history with diff and roll back. */
import { useEffect, useState } from 'react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button, Card, ErrorBox, inputClass } from '@/components/ui.tsx';
import { IssueList, YamlEditor } from '@/components/yaml-editor.tsx';
import { useTRPC } from '@/trpc/react.tsx';
import { ImpactSamples, sampleUsers, useImpactSamples } from './impact-samples.tsx';
import { ImpactTable } from './impact-table.tsx';
import { MigrateToStreams } from './migrate-to-streams.tsx';
import { VersionHistory } from './version-history.tsx';
import { useDebounced } from './use-debounced.ts';

export function RulesWorkspace() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const current = useQuery(trpc.syncRules.current.queryOptions());
  const [content, setContent] = useState<string | null>(null);
  const [comment, setComment] = useState('');
  const [loadedFrom, setLoadedFrom] = useState<string>('');
  useEffect(() => {
    if (content === null && current.data) {
      setContent(current.data.activeContent ?? 'bucket_definitions:\n  global:\n    data:\n      - SELECT * FROM todos\n');
      setLoadedFrom(current.data.active ? `active version ${current.data.active.id}` : 'a starter template');
    }
  }, [content, current.data]);
  const text = content ?? '';
  const debounced = useDebounced(text, 300);
  const validation = useQuery({ ...trpc.syncRules.validate.queryOptions({ content: debounced }), enabled: content !== null, placeholderData: keepPreviousData });
  const issues = validation.data?.issues ?? [];
  const fatal = issues.filter((i) => i.level === 'fatal').length;
  const warnings = issues.length - fatal;
  const stale = debounced !== text || validation.isFetching;

  const impact = useMutation(trpc.syncRules.impact.mutationOptions());
  const [samples, setSamples] = useImpactSamples();
  const [samplesError, setSamplesError] = useState<string | null>(null);
  const previewImpact = () => {
    try {
      impact.mutate({ content: text, users: sampleUsers(samples) });
      setSamplesError(null);
    } catch (e) {
      setSamplesError((e as Error).message);
    }
  };
  const streamCount = validation.data?.outline.streams.filter((s) => s.kind === 'stream').length ?? 0;
  const deploy = useMutation(
    trpc.syncRules.deploy.mutationOptions({
      onSuccess: () => {
        setComment('');
        void queryClient.invalidateQueries({ queryKey: trpc.syncRules.history.queryKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.syncRules.current.queryKey() });
      },
    }),
  );

  return (
    <div className="grid gap-4 p-6 xl:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
      <div className="space-y-4">
        <Card
          title="Editor"
          actions={
            <span data-testid="validation-status" className={`text-xs ${stale ? 'text-zinc-400' : fatal ? 'text-red-700' : 'text-emerald-700'}`}>
              {content === null ? 'loading…' : stale ? 'validating…' : fatal ? `${fatal} error${fatal > 1 ? 's' : ''}${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}` : `valid${warnings ? ` · ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}${streamCount ? ` · ${streamCount} stream${streamCount > 1 ? 's' : ''} (edition ${validation.data?.outline.edition ?? '?'})` : ` · ${validation.data?.definitions.length ?? 0} definitions`}`}
            </span>
          }
        >
          <p className="mb-2 text-xs text-zinc-500">Loaded from {loadedFrom || '…'}. Errors and warnings are marked at their line.</p>
          <YamlEditor value={text} onChange={setContent} issues={issues} />
          <IssueList issues={issues} />
          <div className="mt-3 flex flex-wrap items-center gap-2">
            <input aria-label="Deploy comment" placeholder="Comment (what changed and why)" value={comment} onChange={(e) => setComment(e.target.value)} className={`${inputClass} min-w-64 flex-1`} />
            <Button onClick={previewImpact} disabled={fatal > 0 || impact.isPending || content === null}>
              {impact.isPending ? 'Previewing…' : 'Preview impact'}
            </Button>
            <Button variant="primary" onClick={() => deploy.mutate({ content: text, comment: comment || null, source: 'dashboard' })} disabled={fatal > 0 || stale || deploy.isPending || content === null}>
              {deploy.isPending ? 'Deploying…' : 'Deploy'}
            </Button>
          </div>
          <ImpactSamples value={samples} onChange={setSamples} />
          {deploy.data ? (
            <p data-testid="deploy-result" className="mt-2 text-xs text-emerald-700">
              Deployed as version {deploy.data.id} ({deploy.data.state}); it becomes ACTIVE once its snapshot is consistent.
            </p>
          ) : null}
          <div className="mt-2 space-y-2">
            <ErrorBox error={deploy.error} />
            <ErrorBox error={impact.error ?? samplesError} />
          </div>
        </Card>
        {impact.data ? <ImpactTable preview={impact.data} /> : null}
        <MigrateToStreams
          onLoad={(yaml) => {
            setContent(yaml);
            setLoadedFrom('the Sync Streams migration draft');
          }}
        />
      </div>
      <VersionHistory
        onLoad={(id, yaml) => {
          setContent(yaml);
          setLoadedFrom(`version ${id}`);
        }}
      />
    </div>
  );
}
