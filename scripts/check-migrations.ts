/**
 * Fails when the committed drizzle migrations are out of date with the storage schema: runs
 * drizzle-kit generate against a copy of /drizzle and checks that it produces nothing new.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(path.join(tmpdir(), 'syncline-migrations-'));
try {
  const out = path.join(tmp, 'drizzle');
  cpSync(path.join(ROOT, 'drizzle'), out, { recursive: true });
  const before = readdirSync(out).sort();
  const config = path.join(tmp, 'drizzle.config.mjs');
  writeFileSync(
    config,
    `export default { dialect: 'postgresql', schema: ${JSON.stringify(path.join(ROOT, 'packages/engine/src/storage/schema.ts'))}, out: ${JSON.stringify(out)} };\n`,
  );
  execFileSync(path.join(ROOT, 'node_modules/.bin/drizzle-kit'), ['generate', '--config', config], { cwd: ROOT, stdio: 'pipe' });
  const after = readdirSync(out).sort();
  const added = after.filter((f) => !before.includes(f));
  if (added.length > 0) {
    process.stderr.write(`Storage schema changed without a migration (would generate: ${added.join(', ')}). Run: npm run db:generate\n`);
    process.exit(1);
  }
  process.stdout.write('migrations: up to date\n');
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
