'use client';
/** Buckets by name prefix, keyset-paginated, with a drill-down into ops. */
import { useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { BucketOps } from '@/components/bucket-ops.tsx';
import { Button, Card, Empty, ErrorBox, fmtBytes, fmtNumber, inputClass, Td, Th } from '@/components/ui.tsx';
import { useTRPC } from '@/trpc/react.tsx';

export function BucketBrowser() {
  const trpc = useTRPC();
  const [prefix, setPrefix] = useState('');
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const [bucket, setBucket] = useState<string | null>(null);
  const after = cursors[cursors.length - 1];
  const page = useQuery({ ...trpc.buckets.list.queryOptions({ prefix: prefix || undefined, after, limit: 100 }), placeholderData: keepPreviousData });
  return (
    <div className="space-y-4 p-6">
      <Card
        title="Buckets"
        actions={page.data ? <span className="text-xs text-zinc-500">version {page.data.versionId} · page {cursors.length}</span> : null}
      >
        <div className="mb-2 flex items-center gap-2">
          <input aria-label="Bucket prefix" placeholder="prefix, e.g. 1#user_lists" value={prefix} onChange={(e) => { setPrefix(e.target.value); setCursors([undefined]); }} className={`${inputClass} w-80 font-mono`} />
          <Button onClick={() => setCursors((c) => c.slice(0, -1))} disabled={cursors.length <= 1}>← Prev</Button>
          <Button onClick={() => page.data?.next && setCursors((c) => [...c, page.data.next ?? undefined])} disabled={!page.data?.next}>Next →</Button>
        </div>
        <ErrorBox error={page.error} />
        {page.data && page.data.buckets.length === 0 ? <Empty>No buckets.</Empty> : null}
        <table className="w-full text-xs">
          <thead>
            <tr>
              <Th>Bucket</Th>
              <Th className="text-right">Ops</Th>
              <Th className="text-right">Live rows</Th>
              <Th className="text-right">Checksum</Th>
              <Th className="text-right">Size</Th>
              <Th className="text-right">Last op</Th>
              <Th />
            </tr>
          </thead>
          <tbody>
            {page.data?.buckets.map((b) => (
              <tr key={b.bucket} className={bucket === b.bucket ? 'bg-sky-50' : ''}>
                <Td className="font-mono">{b.bucket}</Td>
                <Td className="text-right tabular-nums">{fmtNumber(b.opCount)}</Td>
                <Td className="text-right tabular-nums">{fmtNumber(b.liveRows)}</Td>
                <Td className="text-right font-mono tabular-nums">{b.checksum}</Td>
                <Td className="text-right tabular-nums">{fmtBytes(b.bytes)}</Td>
                <Td className="text-right font-mono tabular-nums">{b.lastOp}</Td>
                <Td className="text-right"><Button onClick={() => setBucket(b.bucket)}>Ops</Button></Td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
      {bucket ? <BucketOps bucket={bucket} versionId={page.data?.versionId ?? null} onClose={() => setBucket(null)} /> : null}
    </div>
  );
}
