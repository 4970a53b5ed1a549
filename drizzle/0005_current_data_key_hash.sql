-- current_data is keyed by a 128-bit SHA-256 prefix of source_key instead of the key text: a
-- REPLICA IDENTITY FULL table without a primary key is keyed by its whole row, which can exceed
-- the btree entry limit (~2.7 KB) and stalled replication. Existing rows get the same hash the
-- replicator computes (source-key-hash.ts: sha256 of the key's UTF-8 bytes, first 16 bytes).
-- Hand-edited after `drizzle-kit generate`: add the column, backfill it, then swap the key.
ALTER TABLE "syncline"."current_data" ADD COLUMN "key_hash" "bytea";--> statement-breakpoint
UPDATE "syncline"."current_data" SET "key_hash" = substring(sha256(convert_to("source_key", 'UTF8')) FROM 1 FOR 16);--> statement-breakpoint
ALTER TABLE "syncline"."current_data" ALTER COLUMN "key_hash" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "syncline"."current_data" DROP CONSTRAINT "current_data_version_id_source_table_source_key_pk";--> statement-breakpoint
ALTER TABLE "syncline"."current_data" ADD CONSTRAINT "current_data_version_id_source_table_key_hash_pk" PRIMARY KEY("version_id","source_table","key_hash");
