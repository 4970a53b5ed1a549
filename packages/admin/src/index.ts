/**
 * @syncline/admin — the management API as a tRPC v11 router over engine services. Served by
 * sync-api at `/api/trpc` (and mirrored as REST); the dashboard imports `AdminRouter` as a type.
 * No transformer: all outputs are plain JSON.
 *
 * @example
 * const caller = createAdminCaller(ctx);
 * await caller.users.inspect({ userId: 'user-1' });
 */
export { adminRouter, createAdminCaller, type AdminRouter } from './root.ts';
export type { AdminCompactor, AdminContext } from './context.ts';
export { adminProcedure, createTRPCRouter, toTrpcError } from './trpc.ts';
export { restRoutes, restInput, openApiDocument, type RestRoute } from './rest-routes.ts';
