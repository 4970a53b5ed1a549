/**
 * The management API's router type, as seen by the dashboard (type-only: nothing of the server is
 * bundled). No transformer: every output is plain JSON (ids as strings, times as ISO strings).
 */
export type { AdminRouter } from '@syncline/admin';
