'use client';
/** A bucket's ops, page by page (op-id cursor), filtered by op type and row id. */
import { useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTRPC } from '@/trpc/react.tsx';
import { Badge, Button, Card, Empty, ErrorBox, inputClass, Td, Th } from './ui.tsx';

const OP_TONES: Record<string, string> = { PUT: 'bg-emerald-100 text-emerald-800', REMOVE: 'bg-red-100 text-red-800', MOVE: 'bg-zinc-100 text-zinc-700', CLEAR: 'bg-amber-100 text-amber-800' };
type OpFilter = '' | 'PUT' | 'REMOVE' | 'MOVE' | 'CLEAR';

export function BucketOps({ bucket, versionId, onClose }: { bucket: string; versionId?: number | null; onClose?: () => void }) {
  const trpc = useTRPC();
  const [op, setOp] = useState<OpFilter>('');
  const [rowId, setRowId] = useState('');
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const after = cursors[cursors.length - 1] ?? null;
  const page = useQuery({
    ...trpc.buckets.ops.queryOptions({ bucket, versionId: versionId ?? null, after, limit: 50, op: op || null, rowId: rowId.trim() || null }),
    placeholderData: keepPreviousData,
  });
  const reset = () => setCursors([null]);
  return (
    <Card
      testId="bucket-ops"
      title={
        <span>
          Ops of <span className="font-mono normal-case">{bucket}</span>
        </span>
      }
      actions={onClose ? <Button onClick={onClose}>Close</Button> : null}
    >
      <div className="mb-2 flex flex-wrap items-center gap-2 text-xs">
        <select aria-label="Op type" value={op} onChange={(e) => { setOp(e.target.value as OpFilter); reset(); }} className={inputClass}>
          <option value="">all ops</option>
          <option>PUT</option>
          <option>REMOVE</option>
          <option>MOVE</option>
          <option>CLEAR</option>
        </select>
        <input aria-label="Filter by row id" placeholder="row id" value={rowId} onChange={(e) => { setRowId(e.target.value); reset(); }} className={inputClass} />
        <span className="text-zinc-500">page {cursors.length}</span>
        <Button onClick={() => setCursors((c) => c.slice(0, -1))} disabled={cursors.length <= 1}>
          ← Prev
        </Button>
        <Button onClick={() => page.data?.next && setCursors((c) => [...c, page.data.next])} disabled={!page.data?.next}>
          Next →
        </Button>
      </div>
      <ErrorBox error={page.error} />
      {page.data && page.data.ops.length === 0 ? <Empty>No ops match.</Empty> : null}
      <div className="overflow-x-auto">
        <table className="w-full text-xs">
          <thead>
            <tr>
              <Th>Op id</Th>
              <Th>Op</Th>
              <Th>Table</Th>
              <Th>Row id</Th>
              <Th>Checksum</Th>
              <Th>Data</Th>
            </tr>
          </thead>
          <tbody>
            {page.data?.ops.map((o) => (
              <tr key={o.opId} data-testid="op-row">
                <Td className="font-mono tabular-nums">{o.opId}</Td>
                <Td>
                  <Badge tone={OP_TONES[o.op]}>{o.op}</Badge>
                </Td>
                <Td className="font-mono">{o.table ?? '—'}</Td>
                <Td className="font-mono">{o.rowId ?? '—'}</Td>
                <Td className="font-mono tabular-nums">{o.checksum}</Td>
                <Td className="max-w-xl truncate font-mono text-zinc-600" title={o.data ?? ''}>
                  {o.data ?? (o.subkey ? `subkey ${o.subkey}` : '—')}
                </Td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}
