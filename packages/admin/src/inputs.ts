/** zod inputs shared by several routers. */
import { z } from 'zod';

export const optionalVersion = z.number().int().positive().nullish();

/** Most subscriptions one inspected request may carry (clients rarely hold more than a few dozen). */
export const MAX_SUBSCRIPTIONS = 100;

/** One stream subscription as a client sends it (`streams.subscriptions[i]`). */
export const subscriptionInput = z.object({
  stream: z.string().min(1).max(256),
  /** `subscription.parameters()`; null = `{}` as on the wire. Must be a JSON object. */
  parameters: z.record(z.string(), z.unknown()).nullish(),
  overridePriority: z.literal([0, 1, 2, 3]).nullish(),
}).strict();

/** A user as a client would connect: id, extra JWT claims, client parameters, stream subscriptions. */
export const userInput = z.object({
  userId: z.string().min(1).max(256),
  claims: z.record(z.string(), z.unknown()).default({}),
  clientParameters: z.record(z.string(), z.unknown()).default({}),
  subscriptions: z.array(subscriptionInput).max(MAX_SUBSCRIPTIONS).default([]),
  /** false drops default streams and bucket definitions (`streams.include_defaults`). */
  includeDefaults: z.boolean().default(true),
  versionId: optionalVersion,
});

export const rowInput = z.object({
  schema: z.string().min(1).max(128).default('public'),
  table: z.string().min(1).max(128),
  id: z.string().min(1).max(1024),
  versionId: optionalVersion,
});
