'use client';
/**
 * Browser-side tRPC + TanStack Query wiring. Requests go to the dashboard's own `/api/trpc` route,
 * which adds the admin token server-side; the browser only carries the session cookie.
 *
 * @example
 * const trpc = useTRPC();
 * const { data } = useQuery(trpc.syncRules.current.queryOptions());
 */
import { useState, type ReactNode } from 'react';
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { AdminRouter } from './admin-router.ts';
import { makeQueryClient } from './query-client.ts';

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AdminRouter>();

let browserQueryClient: QueryClient | undefined;

function getQueryClient(): QueryClient {
  // Server render: always a fresh client. Browser: one for the page's lifetime.
  if (typeof window === 'undefined') return makeQueryClient();
  browserQueryClient ??= makeQueryClient();
  return browserQueryClient;
}

export function TRPCReactProvider({ children }: { children: ReactNode }) {
  const queryClient = getQueryClient();
  const [trpcClient] = useState(() =>
    createTRPCClient<AdminRouter>({
      links: [httpBatchLink({ url: '/api/trpc', maxURLLength: 4_000 })],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
