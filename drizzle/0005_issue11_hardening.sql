-- Issue 11 (trust hardening), hand-edited after `drizzle-kit generate`.
--
-- current_data is keyed by a 128-bit SHA-256 prefix of source_key instead of the key text: a
-- REPLICA IDENTITY FULL table without a primary key is keyed by its whole row, which can exceed
-- the btree entry limit (~2.7 KB) and stalled replication. Existing rows get the same hash the
-- replicator computes (source-key-hash.ts: sha256 of the key's UTF-8 bytes, first 16 bytes).
ALTER TABLE "syncline"."current_data" ADD COLUMN "key_hash" "bytea";--> statement-breakpoint
UPDATE "syncline"."current_data" SET "key_hash" = substring(sha256(convert_to("source_key", 'UTF8')) FROM 1 FOR 16);--> statement-breakpoint
ALTER TABLE "syncline"."current_data" ALTER COLUMN "key_hash" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "syncline"."current_data" DROP CONSTRAINT "current_data_version_id_source_table_source_key_pk";--> statement-breakpoint
ALTER TABLE "syncline"."current_data" ADD CONSTRAINT "current_data_version_id_source_table_key_hash_pk" PRIMARY KEY("version_id","source_table","key_hash");--> statement-breakpoint
-- Inline (re-)snapshots: a retired table mapping whose rows still have to be removed.
ALTER TABLE "syncline"."source_tables" ADD COLUMN "removal_pending" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- Opaque wire subkeys: a secret per version. Versions that exist already keep NULL (their legacy
-- `<table>/<key>` subkeys, which their clients hold); versions deployed from now on get a salt.
ALTER TABLE "syncline"."sync_rules_versions" ADD COLUMN "subkey_salt" text;--> statement-breakpoint
ALTER TABLE "syncline"."sync_rules_versions" ALTER COLUMN "subkey_salt" SET DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');--> statement-breakpoint
-- Deploy provenance and the replication lease (fencing).
ALTER TABLE "syncline"."sync_rules_versions" ADD COLUMN "deploy_source" text;--> statement-breakpoint
ALTER TABLE "syncline"."sync_rules_versions" ADD COLUMN "deploy_path" text;--> statement-breakpoint
ALTER TABLE "syncline"."sync_rules_versions" ADD COLUMN "content_hash" text;--> statement-breakpoint
ALTER TABLE "syncline"."sync_rules_versions" ADD COLUMN "lease_epoch" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Versions deployed before provenance was recorded: every content gets its hash, and the ones the
-- startup file deploy created (recognisable by their comment) are marked as coming from the file,
-- so the first start after upgrading does not redeploy an unchanged file over an API deploy.
UPDATE "syncline"."sync_rules_versions" SET "content_hash" = encode(sha256(convert_to("content", 'UTF8')), 'hex');--> statement-breakpoint
UPDATE "syncline"."sync_rules_versions" SET "deploy_source" = 'file', "deploy_path" = substring("comment" from '^deployed from (.*) at startup$')
 WHERE "comment" LIKE 'deployed from % at startup';--> statement-breakpoint
-- Write checkpoints remember their inserting transaction, so one that commits late is still found.
ALTER TABLE "syncline"."write_checkpoints" ADD COLUMN "xid" "xid8" DEFAULT pg_current_xact_id();--> statement-breakpoint
CREATE INDEX "write_checkpoints_xid_idx" ON "syncline"."write_checkpoints" USING btree ("xid");
