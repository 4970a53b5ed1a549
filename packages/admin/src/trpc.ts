/**
 * tRPC setup of the management API: no transformer (every output is plain JSON — ids as strings,
 * times as ISO strings), `adminProcedure` as the default base (checks the admin token and turns
 * every thrown ServiceError into a TRPCError with the same meaning).
 */
import { initTRPC, TRPCError } from '@trpc/server';
import { ServiceError, toServiceError } from '@syncline/protocol';
import type { AdminContext } from './context.ts';

type TrpcCode = ConstructorParameters<typeof TRPCError>[0]['code'];

const BY_STATUS: Record<number, TrpcCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  422: 'UNPROCESSABLE_CONTENT',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

/** Maps any thrown value to a TRPCError whose cause is the ServiceError (stable code). */
export function toTrpcError(e: unknown): TRPCError {
  if (e instanceof TRPCError) return e;
  const se = toServiceError(e);
  return new TRPCError({ code: BY_STATUS[se.status] ?? 'INTERNAL_SERVER_ERROR', message: se.message, cause: se });
}

const t = initTRPC.context<AdminContext>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause instanceof ServiceError ? error.cause : null;
    // Unexpected errors never leak internals; their details are logged by the server.
    const internal = error.code === 'INTERNAL_SERVER_ERROR' && !cause;
    return {
      ...shape,
      message: internal ? 'Internal error; see the server log' : shape.message,
      data: { ...shape.data, stack: undefined, serviceCode: cause?.code ?? (internal ? 'SYNC_INTERNAL' : null) },
    };
  },
});

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;

const errors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) throw toTrpcError(result.error.cause instanceof ServiceError ? result.error.cause : result.error);
  return result;
});

/** The default base: refuses calls without the admin token. */
export const adminProcedure = t.procedure.use(async ({ ctx, next }) => {
  if (!ctx.isAdmin) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Admin endpoints need "Authorization: Bearer <ADMIN_TOKEN>".', cause: new ServiceError('ADMIN_AUTH', 'Admin endpoints need "Authorization: Bearer <ADMIN_TOKEN>".') });
  return next();
}).use(errors);
