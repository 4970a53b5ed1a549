/** zod inputs shared by several routers. */
import { z } from 'zod';

export const optionalVersion = z.number().int().positive().nullish();

/** A user as a client would connect: id, extra JWT claims, client parameters. */
export const userInput = z.object({
  userId: z.string().min(1).max(256),
  claims: z.record(z.string(), z.unknown()).default({}),
  clientParameters: z.record(z.string(), z.unknown()).default({}),
  versionId: optionalVersion,
});

export const rowInput = z.object({
  schema: z.string().min(1).max(128).default('public'),
  table: z.string().min(1).max(128),
  id: z.string().min(1).max(1024),
  versionId: optionalVersion,
});
