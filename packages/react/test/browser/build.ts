/**
 * Bundles the React test page (React 19, automatic JSX, production build) and the SQLite worker
 * with esbuild into `outdir`, next to `sqlite3.wasm` and an index.html with a #root.
 */
import { build } from 'esbuild';
import { copyFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export async function buildReactPage(outdir: string): Promise<void> {
  const require = createRequire(import.meta.url);
  const common = { bundle: true, format: 'esm' as const, platform: 'browser' as const, target: 'es2022', logLevel: 'silent' as const, define: { 'process.env.NODE_ENV': '"production"' } };
  await build({ ...common, entryPoints: [join(here, 'page.tsx')], outfile: join(outdir, 'page.js'), jsx: 'automatic' });
  await build({ ...common, entryPoints: [require.resolve('@syncline/client/worker')], outfile: join(outdir, 'worker.js') });
  const wasm = join(dirname(require.resolve('@sqlite.org/sqlite-wasm/package.json')), 'sqlite-wasm/jswasm/sqlite3.wasm');
  copyFileSync(wasm, join(outdir, 'sqlite3.wasm'));
  writeFileSync(join(outdir, 'index.html'), `<!doctype html><meta charset="utf-8"><title>syncline react test</title><div id="root"></div><script type="module" src="./page.js"></script>`);
}
