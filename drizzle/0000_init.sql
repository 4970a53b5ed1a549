CREATE SCHEMA "syncline";
--> statement-breakpoint
CREATE TABLE "syncline"."bucket_data" (
	"version_id" integer NOT NULL,
	"bucket" text NOT NULL,
	"op_id" bigint NOT NULL,
	"op" smallint NOT NULL,
	"source_table" integer,
	"source_key" text,
	"table_name" text,
	"row_id" text,
	"checksum" bigint NOT NULL,
	"data" text,
	"target_op" bigint,
	CONSTRAINT "bucket_data_version_id_bucket_op_id_pk" PRIMARY KEY("version_id","bucket","op_id")
);
--> statement-breakpoint
CREATE TABLE "syncline"."bucket_parameters" (
	"id" bigint PRIMARY KEY NOT NULL,
	"version_id" integer NOT NULL,
	"source_table" integer NOT NULL,
	"source_key" text NOT NULL,
	"lookup" text NOT NULL,
	"bucket_parameters" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "syncline"."bucket_state" (
	"version_id" integer NOT NULL,
	"bucket" text NOT NULL,
	"last_op" bigint NOT NULL,
	"checksum" bigint NOT NULL,
	"op_count" bigint NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"live_rows" bigint DEFAULT 0 NOT NULL,
	"compacted_at" timestamp with time zone,
	CONSTRAINT "bucket_state_version_id_bucket_pk" PRIMARY KEY("version_id","bucket")
);
--> statement-breakpoint
CREATE TABLE "syncline"."connections" (
	"id" text PRIMARY KEY NOT NULL,
	"process_id" text NOT NULL,
	"version_id" integer,
	"user_id" text NOT NULL,
	"client_id" text,
	"user_agent" text,
	"transport" text NOT NULL,
	"connected_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"bucket_count" integer DEFAULT 0 NOT NULL,
	"ops_sent" bigint DEFAULT 0 NOT NULL,
	"bytes_sent" bigint DEFAULT 0 NOT NULL,
	"last_checkpoint" bigint,
	"disconnect_requested" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "syncline"."current_data" (
	"version_id" integer NOT NULL,
	"source_table" integer NOT NULL,
	"source_key" text NOT NULL,
	"data" text,
	"buckets" jsonb NOT NULL,
	"lookups" jsonb NOT NULL,
	CONSTRAINT "current_data_version_id_source_table_source_key_pk" PRIMARY KEY("version_id","source_table","source_key")
);
--> statement-breakpoint
CREATE TABLE "syncline"."op_id_counter" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"last" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "syncline"."replication_stats" (
	"version_id" integer PRIMARY KEY NOT NULL,
	"rows_replicated" bigint DEFAULT 0 NOT NULL,
	"ops_written" bigint DEFAULT 0 NOT NULL,
	"transactions" bigint DEFAULT 0 NOT NULL,
	"last_commit_at" timestamp with time zone,
	"lag_seconds" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "syncline"."source_tables" (
	"id" serial PRIMARY KEY NOT NULL,
	"version_id" integer NOT NULL,
	"relation_oid" integer NOT NULL,
	"schema_name" text NOT NULL,
	"table_name" text NOT NULL,
	"replica_id_columns" jsonb NOT NULL,
	"replica_identity" text NOT NULL,
	"snapshot_done" boolean DEFAULT false NOT NULL,
	"snapshot_estimated_count" bigint,
	"snapshot_count" bigint DEFAULT 0 NOT NULL,
	"snapshot_last_key" text,
	"dropped" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "syncline"."sync_rules_versions" (
	"id" serial PRIMARY KEY NOT NULL,
	"state" text NOT NULL,
	"content" text NOT NULL,
	"comment" text,
	"slot_name" text NOT NULL,
	"snapshot_done" boolean DEFAULT false NOT NULL,
	"no_checkpoint_before" text,
	"last_checkpoint" bigint,
	"last_checkpoint_lsn" text,
	"keepalive_op" bigint,
	"last_checkpoint_at" timestamp with time zone,
	"last_keepalive_at" timestamp with time zone,
	"last_fatal_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"activated_at" timestamp with time zone,
	"stopped_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "syncline"."write_checkpoints" (
	"user_key" text PRIMARY KEY NOT NULL,
	"write_checkpoint" bigint NOT NULL,
	"lsn" text NOT NULL,
	"requested_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "bucket_parameters_lookup_idx" ON "syncline"."bucket_parameters" USING btree ("version_id","lookup","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "bucket_parameters_version_id_idx" ON "syncline"."bucket_parameters" USING btree ("version_id","id");--> statement-breakpoint
CREATE INDEX "bucket_state_last_op_idx" ON "syncline"."bucket_state" USING btree ("version_id","last_op");--> statement-breakpoint
CREATE INDEX "connections_user_idx" ON "syncline"."connections" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "source_tables_version_idx" ON "syncline"."source_tables" USING btree ("version_id","relation_oid");--> statement-breakpoint
CREATE INDEX "write_checkpoints_lsn_idx" ON "syncline"."write_checkpoints" USING btree ("lsn");