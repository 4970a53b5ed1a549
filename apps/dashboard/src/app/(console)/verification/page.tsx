import type { Metadata } from 'next';
import { PageHeader } from '@/components/page-header.tsx';
import { VerificationConsole } from './verification-console.tsx';

export const metadata: Metadata = { title: 'Verification' };

export default function VerificationPage() {
  return (
    <>
      <PageHeader title="Verification" description="Recompute bucket checksums from the op-log and re-evaluate the rules over the source rows." />
      <VerificationConsole />
    </>
  );
}
