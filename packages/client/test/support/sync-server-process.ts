/** Moved to @syncline/test-utils (the React tests and bench use it too); kept for existing imports. */
export { startSyncServer, type SyncServerProcess } from '@syncline/test-utils';
