/**
 * Production build of the sync-api: one esbuild bundle `dist/main.js` (ESM, node20, source maps)
 * with the `@syncline/*` workspace packages inlined (they export TypeScript sources) and every
 * third-party package left external (resolved from node_modules at run time). The drizzle
 * migrations are copied next to the bundle (`dist/drizzle`), where `migrateStorage` finds them.
 *
 * Run: `npm run build --workspace @syncline/sync-api` (or the root `npm run build`);
 * start: `node apps/sync-api/dist/main.js`.
 */
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = path.resolve(appDir, '../..');
const outDir = path.join(appDir, 'dist');

/** Bare imports stay external unless they name a workspace package (`@syncline/...`). */
const externalThirdParty: Plugin = {
  name: 'external-third-party',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@syncline/')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

async function main(): Promise<void> {
  const started = Date.now();
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: [path.join(appDir, 'src/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    sourcesContent: false,
    write: false,
    outfile: path.join(outDir, 'main.js'),
    plugins: [externalThirdParty],
    // Stack traces point at the TypeScript sources without a flag on the command line.
    banner: { js: 'process.setSourceMapsEnabled?.(true);' },
    logLevel: 'warning',
    metafile: false,
  });
  // Written to temporary names, then renamed: a process starting from dist/ (or a parallel build)
  // never sees a half-written bundle.
  for (const file of result.outputFiles) {
    const tmp = `${file.path}.${process.pid}.tmp`;
    await writeFile(tmp, file.contents);
    await rename(tmp, file.path);
  }
  const migrationsTmp = path.join(outDir, `.drizzle.${process.pid}.tmp`);
  await rm(migrationsTmp, { recursive: true, force: true });
  await cp(path.join(repoRoot, 'drizzle'), migrationsTmp, { recursive: true });
  await rm(path.join(outDir, 'drizzle'), { recursive: true, force: true });
  await rename(migrationsTmp, path.join(outDir, 'drizzle')).catch(async (e: NodeJS.ErrnoException) => {
    // A parallel build renamed its copy first: same content, keep it.
    await rm(migrationsTmp, { recursive: true, force: true });
    if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
  });
  process.stdout.write(`sync-api built: ${path.relative(repoRoot, path.join(outDir, 'main.js'))} in ${Date.now() - started} ms\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`sync-api build failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
