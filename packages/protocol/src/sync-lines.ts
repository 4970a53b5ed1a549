import { z } from 'zod';

/** Server → client protocol lines (PowerSync-compatible, reference §1.5). */
export interface BucketChecksumLine {
  bucket: string;
  checksum: number;
  count: number;
  priority: number;
  /** Why the client has this bucket: `{default: k}` indexes `checkpoint.streams`, `{sub: i}` the request's `streams.subscriptions`. */
  subscriptions: SubscriptionReasonLine[];
}

export type SubscriptionReasonLine = { default: number } | { sub: number };

export interface StreamDescriptionLine {
  name: string;
  is_default: boolean;
  errors: Array<{ subscription: string | number; message: string }>;
}

export interface OplogEntryLine {
  op_id: string;
  op: 'PUT' | 'REMOVE' | 'MOVE' | 'CLEAR';
  object_type?: string;
  object_id?: string;
  subkey?: string;
  data?: string | null;
  checksum: number;
}

export type SyncLine =
  | { checkpoint: { last_op_id: string; write_checkpoint?: string; buckets: BucketChecksumLine[]; streams: StreamDescriptionLine[] } }
  | { checkpoint_diff: { last_op_id: string; write_checkpoint?: string; updated_buckets: BucketChecksumLine[]; removed_buckets: string[] } }
  | { data: { bucket: string; after: string; next_after: string; has_more: boolean; data: OplogEntryLine[] } }
  | { checkpoint_complete: { last_op_id: string } }
  | { partial_checkpoint_complete: { last_op_id: string; priority: number } }
  | { token_expires_in: number };

/** Body of `POST /sync/stream` (and the RSocket request payload). Unknown fields are ignored. */
export const streamingSyncRequestSchema = z.looseObject({
  buckets: z
    .array(z.object({ name: z.string().max(1024), after: z.string().regex(/^\d{1,19}$/, 'after must be a base-10 op id') }))
    .max(100_000)
    .optional(),
  include_checksum: z.boolean().optional(),
  raw_data: z.boolean().optional(),
  binary_data: z.boolean().optional(),
  client_id: z.string().max(256).optional(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  app_metadata: z.record(z.string(), z.string()).nullish(),
  /** Sync Streams subscriptions (reference powersync-sync-streams.md §4.1); absent = defaults only. */
  streams: z
    .object({
      include_defaults: z.boolean().nullish(),
      subscriptions: z
        .array(
          z.object({
            stream: z.string().min(1).max(256),
            parameters: z.record(z.string(), z.unknown()).nullish(),
            override_priority: z.number().int().min(0).max(3).nullish(),
          }),
        )
        .max(1_000)
        .nullish(),
    })
    .nullish(),
});
export type StreamingSyncRequest = z.infer<typeof streamingSyncRequestSchema>;

/** Converts an unsigned 32-bit sum to the signed int32 form used in checkpoint lines. */
export function signedChecksum(n: number): number {
  return n | 0;
}
