'use client';
/** Live list of sync streams with the serving process; filter by user or process; disconnect. */
import { useState } from 'react';
import { keepPreviousData, useMutation, useQuery } from '@tanstack/react-query';
import { Button, Card, Empty, ErrorBox, fmtAgo, fmtBytes, fmtNumber, inputClass, Td, Th } from '@/components/ui.tsx';
import { useTRPC } from '@/trpc/react.tsx';

export function ConnectionList({ initialProcess = '' }: { initialProcess?: string }) {
  const trpc = useTRPC();
  const [user, setUser] = useState('');
  const [processId, setProcessId] = useState(initialProcess);
  const list = useQuery({
    ...trpc.connections.list.queryOptions({ userId: user.trim() || null, processId: processId || null, limit: 500 }),
    refetchInterval: 2_000,
    placeholderData: keepPreviousData,
  });
  const cluster = useQuery({ ...trpc.cluster.processes.queryOptions(), refetchInterval: 10_000 });
  const serving = cluster.data?.processes.filter((p) => p.runner !== 'replicator') ?? [];
  const disconnect = useMutation(trpc.connections.disconnect.mutationOptions({ onSuccess: () => void list.refetch() }));
  return (
    <div className="space-y-4 p-6">
      <Card title="Open streams" actions={list.data ? <span data-testid="connection-count" className="text-xs text-zinc-500">{fmtNumber(list.data.total)} open</span> : null}>
        <div className="mb-2 flex gap-2">
          <input aria-label="Filter by user" placeholder="filter by user id" value={user} onChange={(e) => setUser(e.target.value)} className={`${inputClass} w-64 font-mono`} />
          <select aria-label="Filter by process" value={processId} onChange={(e) => setProcessId(e.target.value)} className={`${inputClass} font-mono`}>
            <option value="">all processes</option>
            {serving.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name} ({p.status}, {p.connections})
              </option>
            ))}
            {processId && !serving.some((p) => p.id === processId) ? <option value={processId}>{processId}</option> : null}
          </select>
        </div>
        <ErrorBox error={list.error ?? disconnect.error} />
        {list.data && list.data.connections.length === 0 ? <Empty>No open sync streams{user ? ` for ${user}` : ''}{processId ? ' on this process' : ''}.</Empty> : null}
        <div className="overflow-x-auto">
          <table className="w-full text-xs">
            <thead>
              <tr>
                <Th>User</Th>
                <Th>Process</Th>
                <Th>Client</Th>
                <Th>User agent</Th>
                <Th>Transport</Th>
                <Th>Since</Th>
                <Th className="text-right">Buckets</Th>
                <Th className="text-right">Ops sent</Th>
                <Th className="text-right">Bytes sent</Th>
                <Th className="text-right">Checkpoint</Th>
                <Th />
              </tr>
            </thead>
            <tbody>
              {list.data?.connections.map((c) => (
                <tr key={c.id} data-testid="connection-row">
                  <Td className="font-mono">{c.userId}</Td>
                  <Td className="font-mono" title={c.processId}>{c.processName ?? `${c.processId.slice(0, 8)}… (gone)`}</Td>
                  <Td className="font-mono">{c.clientId ?? '—'}</Td>
                  <Td className="max-w-56 truncate" title={c.userAgent ?? ''}>{c.userAgent ?? '—'}</Td>
                  <Td>{c.transport}</Td>
                  <Td title={c.connectedAt}>{fmtAgo(c.connectedAt)}</Td>
                  <Td className="text-right tabular-nums">{fmtNumber(c.bucketCount)}</Td>
                  <Td className="text-right tabular-nums">{fmtNumber(c.opsSent)}</Td>
                  <Td className="text-right tabular-nums">{fmtBytes(c.bytesSent)}</Td>
                  <Td className="text-right font-mono tabular-nums">{c.lastCheckpoint ?? '—'}</Td>
                  <Td className="text-right">
                    {c.disconnectRequested ? (
                      <span className="text-zinc-500">closing…</span>
                    ) : (
                      <Button variant="danger" onClick={() => disconnect.mutate({ id: c.id })}>Disconnect</Button>
                    )}
                  </Td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
    </div>
  );
}
