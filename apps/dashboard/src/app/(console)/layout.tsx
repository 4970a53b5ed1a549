import type { ReactNode } from 'react';
import { NavLinks } from '@/components/nav-links.tsx';
import { syncApiUrl } from '@/env.ts';
import { logout } from '@/lib/auth-actions.ts';
import { requireSession } from '@/lib/require-session.ts';
import { TRPCReactProvider } from '@/trpc/react.tsx';

export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  await requireSession();
  return (
    <div className="flex min-h-screen">
      <aside className="sticky top-0 flex h-screen w-52 shrink-0 flex-col bg-zinc-900 text-zinc-300">
        <div className="px-4 py-4">
          <span className="text-base font-semibold tracking-tight text-white">Syncline</span>
          <span className="ml-1.5 text-xs text-zinc-500">admin</span>
        </div>
        <NavLinks />
        <div className="mt-auto border-t border-zinc-800 px-4 py-3 text-xs">
          <div className="text-zinc-500">Sync API</div>
          <div className="truncate font-mono text-zinc-400" title={syncApiUrl()}>
            {syncApiUrl()}
          </div>
          <form action={logout} className="mt-3">
            <button type="submit" className="rounded border border-zinc-700 px-2.5 py-1 text-zinc-300 hover:bg-zinc-800 hover:text-white">
              Log out
            </button>
          </form>
        </div>
      </aside>
      <main className="min-w-0 flex-1">
        <TRPCReactProvider>{children}</TRPCReactProvider>
      </main>
    </div>
  );
}
