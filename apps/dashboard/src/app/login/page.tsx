import type { Metadata } from 'next';
import { safeNextPath } from '@/lib/safe-next-path.ts';
import { LoginForm } from './login-form.tsx';

export const metadata: Metadata = { title: 'Log in' };
export const dynamic = 'force-dynamic';

export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const next = safeNextPath((await searchParams).next);
  return (
    <main className="flex min-h-screen items-center justify-center bg-zinc-100 p-6">
      <div className="w-full max-w-sm rounded-lg border border-zinc-200 bg-white p-6 shadow-sm">
        <h1 className="text-lg font-semibold tracking-tight">
          Syncline <span className="font-normal text-zinc-500">admin</span>
        </h1>
        <p className="mt-1 text-zinc-500">Enter the sync API&apos;s admin token to continue.</p>
        <LoginForm next={next} />
      </div>
    </main>
  );
}
