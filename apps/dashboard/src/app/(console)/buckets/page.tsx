import type { Metadata } from 'next';
import { ComingSoon } from '@/components/coming-soon.tsx';

export const metadata: Metadata = { title: 'Buckets' };

export default function BucketsPage() {
  return (
    <ComingSoon
      title="Buckets"
      description="Browse buckets and their op-log."
      planned={[
        'Bucket list with op count, live rows, checksum and size',
        'Paginated ops, filtered by op type or row id',
        'Which buckets a source row is in, and why',
      ]}
    />
  );
}
