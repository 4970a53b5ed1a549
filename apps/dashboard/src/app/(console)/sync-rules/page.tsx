import type { Metadata } from 'next';
import { PageHeader } from '@/components/page-header.tsx';
import { RulesWorkspace } from './rules-workspace.tsx';

export const metadata: Metadata = { title: 'Sync rules' };

export default function SyncRulesPage() {
  return (
    <>
      <PageHeader title="Sync rules" description="Edit, validate, preview the impact of, deploy and roll back versioned sync rules." />
      <RulesWorkspace />
    </>
  );
}
