import type { Metadata } from 'next';
import { PageHeader } from '@/components/page-header.tsx';
import { UserInspector } from './user-inspector.tsx';

export const metadata: Metadata = { title: 'Users' };

export default function UsersPage() {
  return (
    <>
      <PageHeader title="Users" description="What a user syncs: buckets, ops, row memberships, and why a row is (not) theirs." />
      <UserInspector />
    </>
  );
}
