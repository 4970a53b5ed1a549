/**
 * @syncline/react — React bindings for @syncline/client: `SynclineProvider`, `useQuery`,
 * `useSuspenseQuery`, `useStatus`, `useUploadQueueStats`, `useSyncStream`, `useSyncline`.
 */
export { SynclineProvider, useSyncline, type SynclineProviderProps } from './syncline-context.ts';
export { useQuery, type UseQueryOptions, type UseQueryResult } from './use-query.ts';
export { useSuspenseQuery, type UseSuspenseQueryResult } from './use-suspense-query.ts';
export { useStatus } from './use-status.ts';
export { useUploadQueueStats } from './use-upload-queue-stats.ts';
export { useSyncStream, type UseSyncStreamOptions, type UseSyncStreamResult } from './use-sync-stream.ts';
export { queryKey } from './query-key.ts';
