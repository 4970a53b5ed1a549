ALTER TABLE "syncline"."sync_rules_versions" ADD COLUMN "deploy_source" text;--> statement-breakpoint
ALTER TABLE "syncline"."sync_rules_versions" ADD COLUMN "deploy_path" text;--> statement-breakpoint
ALTER TABLE "syncline"."sync_rules_versions" ADD COLUMN "content_hash" text;--> statement-breakpoint
ALTER TABLE "syncline"."sync_rules_versions" ADD COLUMN "lease_epoch" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Versions deployed before provenance was recorded: every content gets its hash, and the ones the
-- startup file deploy created (recognisable by their comment) are marked as coming from the file,
-- so the first start after upgrading does not redeploy an unchanged file over an API deploy.
UPDATE "syncline"."sync_rules_versions" SET "content_hash" = encode(sha256(convert_to("content", 'UTF8')), 'hex');--> statement-breakpoint
UPDATE "syncline"."sync_rules_versions" SET "deploy_source" = 'file', "deploy_path" = substring("comment" from '^deployed from (.*) at startup$')
 WHERE "comment" LIKE 'deployed from % at startup';
