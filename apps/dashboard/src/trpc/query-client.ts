import { QueryClient, defaultShouldDehydrateQuery } from '@tanstack/react-query';

/** One QueryClient per browser session or per server request. */
export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Server components prefetch; avoid an immediate refetch on hydration.
        staleTime: 5_000,
        retry: 1,
      },
      dehydrate: {
        shouldDehydrateQuery: (query) =>
          defaultShouldDehydrateQuery(query) || query.state.status === 'pending',
      },
    },
  });
}
