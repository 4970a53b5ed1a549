CREATE TABLE "syncline"."health_samples" (
	"id" serial PRIMARY KEY NOT NULL,
	"sampled_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version_id" integer,
	"rows_replicated" bigint DEFAULT 0 NOT NULL,
	"ops_written" bigint DEFAULT 0 NOT NULL,
	"transactions" bigint DEFAULT 0 NOT NULL,
	"ops_synced" bigint DEFAULT 0 NOT NULL,
	"connections" integer DEFAULT 0 NOT NULL,
	"lag_seconds" integer,
	"lag_bytes" bigint
);
--> statement-breakpoint
CREATE TABLE "syncline"."verification_mismatches" (
	"id" serial PRIMARY KEY NOT NULL,
	"run_id" integer NOT NULL,
	"kind" text NOT NULL,
	"bucket" text NOT NULL,
	"table_name" text,
	"row_id" text,
	"expected" text,
	"stored" text
);
--> statement-breakpoint
CREATE TABLE "syncline"."verification_runs" (
	"id" serial PRIMARY KEY NOT NULL,
	"version_id" integer NOT NULL,
	"user_id" text,
	"state" text NOT NULL,
	"phase" text NOT NULL,
	"buckets_total" integer DEFAULT 0 NOT NULL,
	"buckets_checked" integer DEFAULT 0 NOT NULL,
	"rows_checked" bigint DEFAULT 0 NOT NULL,
	"checksum_mismatches" integer DEFAULT 0 NOT NULL,
	"row_mismatches" integer DEFAULT 0 NOT NULL,
	"row_buckets" integer DEFAULT 0 NOT NULL,
	"error" text,
	"process_id" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "health_samples_at_idx" ON "syncline"."health_samples" USING btree ("sampled_at");--> statement-breakpoint
CREATE INDEX "verification_mismatches_run_idx" ON "syncline"."verification_mismatches" USING btree ("run_id","id");--> statement-breakpoint
CREATE INDEX "verification_runs_version_idx" ON "syncline"."verification_runs" USING btree ("version_id","id");