import type { Metadata } from 'next';
import { PageHeader } from '@/components/page-header.tsx';
import { StorageConsole } from './storage-console.tsx';

export const metadata: Metadata = { title: 'Storage' };

export default function StoragePage() {
  return (
    <>
      <PageHeader title="Storage" description="Op-log fragmentation of the served version, compaction and defragmentation." />
      <StorageConsole />
    </>
  );
}
