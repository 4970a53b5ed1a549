ALTER TABLE "syncline"."current_data" ALTER COLUMN "buckets" SET DATA TYPE text;--> statement-breakpoint
ALTER TABLE "syncline"."current_data" ALTER COLUMN "lookups" SET DATA TYPE text;