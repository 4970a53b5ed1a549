/**
 * The management API's router type, as seen by the dashboard.
 *
 * TODO(admin-router): `@syncline/admin` does not export `AdminRouter` yet. Replace the placeholder
 * below with the real type once it does:
 *
 *     export type { AdminRouter } from '@syncline/admin';
 *
 * The placeholder is an empty router with the default (JSON) transformer, so every `useTRPC()` call
 * site fails to typecheck until the real router provides the procedure — nothing calls it yet.
 */
import type { initTRPC } from '@trpc/server';

type PlaceholderTRPC = ReturnType<ReturnType<typeof initTRPC.create>['router']>;

/** @deprecated Placeholder until `@syncline/admin` exports `AdminRouter` (see TODO above). */
export type AdminRouter = PlaceholderTRPC;
