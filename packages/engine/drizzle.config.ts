import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './packages/engine/src/storage/schema.ts',
  out: './drizzle',
});
