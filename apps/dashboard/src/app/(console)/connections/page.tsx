import type { Metadata } from 'next';
import { PageHeader } from '@/components/page-header.tsx';
import { ConnectionList } from './connection-list.tsx';

export const metadata: Metadata = { title: 'Connections' };

export default async function ConnectionsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const process = (await searchParams).process;
  return (
    <>
      <PageHeader title="Connections" description="Open sync streams across every API process, with the process serving each (refreshed every 2 s)." />
      <ConnectionList initialProcess={typeof process === 'string' ? process : ''} />
    </>
  );
}
