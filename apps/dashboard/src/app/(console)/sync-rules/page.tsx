import type { Metadata } from 'next';
import { ComingSoon } from '@/components/coming-soon.tsx';

export const metadata: Metadata = { title: 'Sync rules' };

export default function SyncRulesPage() {
  return (
    <ComingSoon
      title="Sync rules"
      description="Versioned sync rules: edit, validate, deploy and roll back."
      planned={[
        'YAML editor that validates as you type and marks errors at their line',
        'Version history with state, author comment and snapshot progress',
        'Diff between versions, deploy, roll back',
        'Impact preview: buckets and rows per definition before deploying',
      ]}
    />
  );
}
