import type { Metadata } from 'next';
import { ComingSoon } from '@/components/coming-soon.tsx';

export const metadata: Metadata = { title: 'Verification' };

export default function VerificationPage() {
  return (
    <ComingSoon
      title="Verification"
      description="Checksum verification jobs."
      planned={[
        'Recompute bucket checksums and counts from the op-log',
        'Re-evaluate rules over source rows and compare with stored state',
        'Mismatch report and history of past runs',
      ]}
    />
  );
}
