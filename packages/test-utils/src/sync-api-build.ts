/**
 * The compiled sync-api bundle (`apps/sync-api/dist/main.js`) for tests that spawn the service:
 * built on demand when it is missing or older than its sources, so a clean clone (CI) and an
 * edited tree both run what the sources say, and an unchanged tree pays only a stat walk (~10 ms).
 *
 * Staleness: a fingerprint (path, size, mtime) of every input of the bundle — the sync-api's
 * sources and build script, the `@syncline/*` packages it inlines (its workspace dependency
 * closure), the drizzle migrations — stored next to the bundle after a build.
 *
 * @example
 * await ensureSyncApiBuild();            // no-op when dist/ matches the sources
 * spawn(process.execPath, [SYNC_API_BUNDLE], …);
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SYNC_API_BUNDLE = path.join(REPO_ROOT, 'apps/sync-api/dist/main.js');
const STAMP = path.join(REPO_ROOT, 'apps/sync-api/dist/.build-inputs');

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else out.push(p);
  }
}

/** Directories of the workspace packages the sync-api bundle inlines (dependency closure). */
async function bundledPackageDirs(): Promise<string[]> {
  const byName = new Map<string, { dir: string; deps: string[] }>();
  for (const d of await readdir(path.join(REPO_ROOT, 'packages'))) {
    const dir = path.join(REPO_ROOT, 'packages', d);
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => '{}')) as { name?: string; dependencies?: Record<string, string> };
    if (pkg.name) byName.set(pkg.name, { dir, deps: Object.keys(pkg.dependencies ?? {}) });
  }
  const app = JSON.parse(await readFile(path.join(REPO_ROOT, 'apps/sync-api/package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const seen = new Set<string>();
  const visit = (name: string) => {
    const p = byName.get(name);
    if (!p || seen.has(name)) return;
    seen.add(name);
    p.deps.forEach(visit);
  };
  Object.keys(app.dependencies ?? {}).forEach(visit);
  return [...seen].map((n) => byName.get(n)!.dir);
}

/** Fingerprint of every input of the bundle. */
export async function syncApiBuildInputs(): Promise<string> {
  const files: string[] = [];
  for (const dir of ['apps/sync-api/src', 'apps/sync-api/scripts', 'drizzle']) await walk(path.join(REPO_ROOT, dir), files);
  for (const dir of await bundledPackageDirs()) {
    await walk(path.join(dir, 'src'), files);
    files.push(path.join(dir, 'package.json'));
  }
  files.push(path.join(REPO_ROOT, 'apps/sync-api/package.json'));
  files.sort();
  const h = createHash('sha256');
  for (const f of files) {
    const s = await stat(f).catch(() => null);
    h.update(`${path.relative(REPO_ROOT, f)}\0${s?.size ?? -1}\0${s?.mtimeMs ?? -1}\n`);
  }
  return h.digest('hex');
}

let ensuring: Promise<void> | null = null;

/**
 * Builds the bundle unless `dist/` was built from exactly the current sources. Once per test
 * process; concurrent builds from parallel workers are safe (the build writes by rename).
 */
export function ensureSyncApiBuild(): Promise<void> {
  ensuring ??= (async () => {
    const inputs = await syncApiBuildInputs();
    const bundle = await stat(SYNC_API_BUNDLE).catch(() => null);
    if (bundle && (await readFile(STAMP, 'utf8').catch(() => '')) === inputs) return;
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', 'apps/sync-api/scripts/build.ts'], { cwd: REPO_ROOT, timeout: 180_000 }, (e, _out, stderr) =>
        e ? reject(new Error(`sync-api build failed (run \`npm run build --workspace @syncline/sync-api\` to see why): ${e.message}\n${stderr}`)) : resolve(),
      );
    });
    await writeFile(STAMP, inputs);
  })();
  ensuring.catch(() => (ensuring = null));
  return ensuring;
}

/** Same as {@link ensureSyncApiBuild} (the name older callers use). */
export const buildSyncApi = ensureSyncApiBuild;
