import type { Metadata } from 'next';
import { ComingSoon } from '@/components/coming-soon.tsx';

export const metadata: Metadata = { title: 'Connections' };

export default function ConnectionsPage() {
  return (
    <ComingSoon
      title="Connections"
      description="Live sync connections across all API processes."
      planned={[
        'User, client id, user agent, transport, buckets and bytes sent',
        'Filter by user, disconnect one connection',
      ]}
    />
  );
}
