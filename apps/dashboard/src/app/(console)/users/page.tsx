import type { Metadata } from 'next';
import { ComingSoon } from '@/components/coming-soon.tsx';

export const metadata: Metadata = { title: 'Users' };

export default function UsersPage() {
  return (
    <ComingSoon
      title="Users"
      description="Why does user X (not) see row Y?"
      planned={[
        'Buckets a user gets, with definition, priority, op count, checksum and size',
        "Explain why a row is or is not in a user's buckets",
        'Mint a dev token to reproduce a client',
      ]}
    />
  );
}
