'use client';
import { useRouter } from 'next/navigation';
import { useEffect, useTransition } from 'react';

/** Re-renders the current server page every `intervalMs`, with a manual "Refresh" button. */
export function AutoRefresh({ intervalMs }: { intervalMs: number }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();

  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') startTransition(() => router.refresh());
    }, intervalMs);
    return () => clearInterval(id);
  }, [intervalMs, router]);

  return (
    <button
      type="button"
      onClick={() => startTransition(() => router.refresh())}
      disabled={pending}
      className="rounded border border-zinc-300 bg-white px-2.5 py-1 text-xs font-medium hover:bg-zinc-100 disabled:opacity-60"
      title={`Refreshes automatically every ${Math.round(intervalMs / 1000)} s`}
    >
      {pending ? 'Refreshing…' : 'Refresh'}
    </button>
  );
}
