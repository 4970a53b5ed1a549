/** Values published by global-setup.ts for the test workers. */
function required(name: 'E2E_DASHBOARD_URL' | 'E2E_ADMIN_TOKEN' | 'E2E_SYNC_API_URL'): string {
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
};
