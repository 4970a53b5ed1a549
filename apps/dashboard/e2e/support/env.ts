/** Values published by global-setup.ts for the test workers. */
type E2eVar =
  | 'E2E_DASHBOARD_URL'
  | 'E2E_ADMIN_TOKEN'
  | 'E2E_SYNC_API_URL'
  | 'E2E_DASHBOARD_UNREACHABLE_URL'
  | 'E2E_DEAD_SYNC_API_URL'
  | 'E2E_STORAGE_DATABASE_URL'
  | 'E2E_SOURCE_DATABASE_URL'
  | 'E2E_CLUSTER';

function required(name: E2eVar): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through playwright.config.ts (global setup)`);
  return value;
}

export const e2eEnv = {
  get dashboardUrl() {
    return required('E2E_DASHBOARD_URL');
  },
  get adminToken() {
    return required('E2E_ADMIN_TOKEN');
  },
  get syncApiUrl() {
    return required('E2E_SYNC_API_URL');
  },
  /** A second dashboard whose SYNC_API_URL points where nothing listens. */
  get unreachableDashboardUrl() {
    return required('E2E_DASHBOARD_UNREACHABLE_URL');
  },
  get deadSyncApiUrl() {
    return required('E2E_DEAD_SYNC_API_URL');
  },
  /** Storage database of the real sync API (only with E2E_SYNC_API=real, the default). */
  get storageDatabaseUrl() {
    return required('E2E_STORAGE_DATABASE_URL');
  },
  /** Source database of the real sync API (only with E2E_SYNC_API=real). */
  get sourceDatabaseUrl() {
    return required('E2E_SOURCE_DATABASE_URL');
  },
  /** The extra sync-api processes next to the main one (only with E2E_SYNC_API=real). */
  get cluster(): Array<{ name: string; runner: string; url: string }> {
    return JSON.parse(required('E2E_CLUSTER')) as Array<{ name: string; runner: string; url: string }>;
  },
};
