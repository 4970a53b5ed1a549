ALTER TABLE "syncline"."bucket_data" ALTER COLUMN "bucket" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "syncline"."bucket_parameters" ALTER COLUMN "source_key" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "syncline"."bucket_parameters" ALTER COLUMN "lookup" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "syncline"."bucket_state" ALTER COLUMN "bucket" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "syncline"."current_data" ALTER COLUMN "source_key" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "syncline"."verification_mismatches" ALTER COLUMN "bucket" SET DATA TYPE text COLLATE "C";