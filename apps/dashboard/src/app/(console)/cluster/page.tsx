import type { Metadata } from 'next';
import { PageHeader } from '@/components/page-header.tsx';
import { ClusterConsole } from './cluster-console.tsx';

export const metadata: Metadata = { title: 'Cluster' };

export default function ClusterPage() {
  return (
    <>
      <PageHeader title="Cluster" description="Every sync-api process on this storage database: role, version, load, and who replicates each sync-rules version (refreshed every 5 s)." />
      <ClusterConsole />
    </>
  );
}
