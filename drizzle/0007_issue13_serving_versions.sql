ALTER TABLE "syncline"."processes" ADD COLUMN "serving_versions" integer[];--> statement-breakpoint
CREATE INDEX "connections_process_idx" ON "syncline"."connections" USING btree ("process_id");