'use client';
/**
 * "Migrate to Sync Streams": converts the active `bucket_definitions` YAML into an edition-3
 * `streams:` draft (admin `syncRules.migrateToStreams`, which stores nothing), shows the diff and
 * the issues, and loads the draft into the editor; the operator then validates, previews and
 * deploys it with the editor's usual flow.
 */
import { useMutation, useQuery } from '@tanstack/react-query';
import { Badge, Button, Card, ErrorBox } from '@/components/ui.tsx';
import { useTRPC } from '@/trpc/react.tsx';
import { DiffView } from './diff-view.tsx';

export function MigrateToStreams({ onLoad }: { onLoad: (yaml: string) => void }) {
  const trpc = useTRPC();
  const current = useQuery(trpc.syncRules.current.queryOptions());
  const migrate = useMutation(trpc.syncRules.migrateToStreams.mutationOptions());
  const active = current.data?.activeContent ?? null;
  // Only legacy rules have anything to migrate.
  if (active === null || !/^bucket_definitions\s*:/m.test(active)) return null;
  const result = migrate.data;
  const fatal = result?.issues.filter((i) => i.level === 'fatal') ?? [];
  const warnings = result?.issues.filter((i) => i.level === 'warning') ?? [];

  return (
    <Card
      title="Sync Streams"
      testId="migrate-to-streams"
      actions={
        <Button onClick={() => migrate.mutate({})} disabled={migrate.isPending}>
          {migrate.isPending ? 'Migrating…' : 'Migrate to Sync Streams'}
        </Button>
      }
    >
      <p className="text-xs text-zinc-500">
        The active version uses legacy bucket definitions. Migrating drafts an edition-3 <code>streams:</code> config that syncs every user the same rows: one
        always-synced (<code>auto_subscribe</code>) stream per definition. Nothing is deployed until you deploy the draft from the editor.
      </p>
      <div className="mt-2">
        <ErrorBox error={migrate.error} />
      </div>
      {result ? (
        <div className="mt-3 space-y-3">
          <p data-testid="migrate-summary" className="text-xs text-zinc-700">
            {result.streams.length} stream{result.streams.length === 1 ? '' : 's'} drafted from {result.source === active ? 'the active version' : 'the given YAML'}
            {fatal.length ? `; ${fatal.length} problem${fatal.length === 1 ? '' : 's'} to fix by hand` : ''}.
          </p>
          {result.issues.length ? (
            <ul data-testid="migrate-issues" className="space-y-1 text-xs">
              {[...fatal, ...warnings].map((issue, i) => (
                <li key={i} className="flex gap-2">
                  <Badge tone={issue.level === 'fatal' ? 'bg-red-100 text-red-800' : 'bg-amber-100 text-amber-800'}>{issue.level === 'fatal' ? 'not migrated' : 'check'}</Badge>
                  <span className={issue.level === 'fatal' ? 'text-red-800' : 'text-zinc-700'}>{issue.message}</span>
                </li>
              ))}
            </ul>
          ) : null}
          {result.content ? (
            <>
              <div data-testid="migrate-diff">
                <DiffView diff={{ from: 0, to: 0, added: result.added, deleted: result.deleted, lines: result.diff, streams: [], edition: { from: 0, to: 0 } }} />
              </div>
              <div className="flex flex-wrap items-center gap-2">
                <Button variant="primary" onClick={() => onLoad(result.content)}>
                  Load draft into editor
                </Button>
                {fatal.length ? <span className="text-xs text-red-700">The draft leaves out the definitions listed above (kept as comments in it).</span> : null}
              </div>
            </>
          ) : null}
        </div>
      ) : null}
    </Card>
  );
}
