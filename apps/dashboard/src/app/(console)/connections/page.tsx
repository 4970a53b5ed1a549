import type { Metadata } from 'next';
import { PageHeader } from '@/components/page-header.tsx';
import { ConnectionList } from './connection-list.tsx';

export const metadata: Metadata = { title: 'Connections' };

export default function ConnectionsPage() {
  return (
    <>
      <PageHeader title="Connections" description="Open sync streams across every API process (refreshed every 2 s)." />
      <ConnectionList />
    </>
  );
}
