import type { Metadata } from 'next';
import { PageHeader } from '@/components/page-header.tsx';
import { BucketBrowser } from './bucket-browser.tsx';

export const metadata: Metadata = { title: 'Buckets' };

export default function BucketsPage() {
  return (
    <>
      <PageHeader title="Buckets" description="Every bucket of the active version (paginated by name) and its ops." />
      <BucketBrowser />
    </>
  );
}
