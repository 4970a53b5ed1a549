/** @syncline/react — React bindings for @syncline/client (SynclineProvider, useQuery, useStatus, useSyncStream). */
export {};
