CREATE TABLE "syncline"."process_samples" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"process_id" text NOT NULL,
	"process_name" text NOT NULL,
	"sampled_at" timestamp with time zone DEFAULT now() NOT NULL,
	"connections" integer NOT NULL,
	"rss_bytes" bigint NOT NULL,
	"heap_used_bytes" bigint NOT NULL,
	"cpu_percent" real NOT NULL,
	"replication_lag_ms" integer
);
--> statement-breakpoint
CREATE TABLE "syncline"."processes" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"runner" text NOT NULL,
	"version" text NOT NULL,
	"pid" integer NOT NULL,
	"host" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL,
	"state" text DEFAULT 'starting' NOT NULL,
	"connections" integer DEFAULT 0 NOT NULL,
	"rss_bytes" bigint DEFAULT 0 NOT NULL,
	"heap_used_bytes" bigint DEFAULT 0 NOT NULL,
	"cpu_percent" real DEFAULT 0 NOT NULL,
	"active_versions" integer[] DEFAULT '{}'::int[] NOT NULL,
	"standby_versions" integer[] DEFAULT '{}'::int[] NOT NULL,
	"replication_lag_ms" integer
);
--> statement-breakpoint
CREATE INDEX "process_samples_at_idx" ON "syncline"."process_samples" USING btree ("sampled_at");