/**
 * Server-component side of tRPC: prefetch admin queries straight from the sync API (with the admin
 * token, server-side only) and hand the results to client components through `<HydrateClient>`.
 *
 * @example
 * // in a server component
 * prefetch(trpc.syncRules.current.queryOptions());
 * return <HydrateClient><RulesEditor /></HydrateClient>;
 */
import { cache, type ReactNode } from 'react';
import { HydrationBoundary, dehydrate, type FetchQueryOptions } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, type TRPCLink } from '@trpc/client';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import { serverEnv } from '../env.ts';
import type { AdminRouter } from './admin-router.ts';
import { makeQueryClient } from './query-client.ts';

/** One QueryClient per server request. */
export const getQueryClient = cache(makeQueryClient);

/**
 * Calls the sync API directly with the admin token. The link is built on first use, so importing
 * this module (e.g. while `next build` collects pages) needs no configuration.
 */
const lazySyncApiLink: TRPCLink<AdminRouter> = (runtime) => {
  let inner: ReturnType<TRPCLink<AdminRouter>> | undefined;
  return (opts) => {
    if (!inner) {
      const env = serverEnv();
      inner = httpBatchLink<AdminRouter>({
        url: `${env.SYNC_API_URL}/api/trpc`,
        headers: () => ({ authorization: `Bearer ${env.ADMIN_TOKEN}` }),
      })(runtime);
    }
    return inner(opts);
  };
};

const serverClient = createTRPCClient<AdminRouter>({ links: [lazySyncApiLink] });

/** Query-options factory for server components (same shape as `useTRPC()` in the browser). */
export const trpc = createTRPCOptionsProxy<AdminRouter>({
  client: serverClient,
  queryClient: getQueryClient,
});

/** Starts a query on the server; its result streams to the client inside `<HydrateClient>`. */
export function prefetch(queryOptions: FetchQueryOptions): void {
  void getQueryClient().prefetchQuery(queryOptions);
}

export function HydrateClient({ children }: { children: ReactNode }) {
  return <HydrationBoundary state={dehydrate(getQueryClient())}>{children}</HydrationBoundary>;
}
