/** Fails when any workspace imports across the layering of DESIGN.md §1 (see layering-rules.ts). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkManifest, checkSource, type Violation } from './layering-rules.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', '.next', 'dist', '.turbo', 'test-results', 'playwright-report']);

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) yield* files(full);
    else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) yield full;
  }
}

const violations: Violation[] = [];
for (const group of ['packages', 'apps', 'examples']) {
  for (const dir of readdirSync(path.join(ROOT, group))) {
    const pkgDir = path.join(ROOT, group, dir);
    const manifest = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> };
    violations.push(...checkManifest(manifest.name, path.relative(ROOT, path.join(pkgDir, 'package.json')), manifest.dependencies ?? {}));
    for (const file of files(pkgDir)) {
      const depth = path.relative(pkgDir, path.dirname(file)).split(path.sep).filter(Boolean).length;
      violations.push(...checkSource(manifest.name, path.relative(ROOT, file), readFileSync(file, 'utf8'), depth));
    }
  }
}
if (violations.length) {
  for (const v of violations) process.stderr.write(`${v.file}:${v.line}: ${v.message}\n`);
  process.stderr.write(`\n${violations.length} layering violation(s).\n`);
  process.exit(1);
}
process.stdout.write('layering: ok\n');
