/**
 * Bundles the browser test page and the SQLite worker with esbuild into `outdir`, next to the
 * `sqlite3.wasm` file the worker loads relative to its own URL.
 */
import { build, type Plugin } from 'esbuild';
import { copyFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * `@syncline/protocol` imports `node:crypto` for op hashing, which the client never calls; stub
 * it for the browser bundle (see report: the protocol package should split that import out).
 */
const stubNodeCrypto: Plugin = {
  name: 'stub-node-crypto',
  setup(b) {
    b.onResolve({ filter: /^node:crypto$/ }, () => ({ path: 'node-crypto-stub', namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents: `export function createHash() { throw new Error('node:crypto is not available in the browser'); }`,
      loader: 'js',
    }));
  },
};

export async function buildBrowserBundle(outdir: string): Promise<void> {
  const common = { bundle: true, format: 'esm' as const, platform: 'browser' as const, target: 'es2022', logLevel: 'silent' as const, plugins: [stubNodeCrypto] };
  await build({ ...common, entryPoints: [join(here, 'page.ts')], outfile: join(outdir, 'page.js') });
  await build({ ...common, entryPoints: [join(here, 'multi-tab-page.ts')], outfile: join(outdir, 'multi-tab-page.js') });
  await build({ ...common, entryPoints: [join(here, '../../src/adapters/browser/sqlite-worker.ts')], outfile: join(outdir, 'worker.js') });
  await build({ ...common, entryPoints: [join(here, 'opfs-migration-page.ts')], outfile: join(outdir, 'opfs-migration-page.js') });
  await build({ ...common, entryPoints: [join(here, 'legacy-pool-worker.ts')], outfile: join(outdir, 'legacy-pool-worker.js') });
  await build({ ...common, entryPoints: [join(here, 'migration-crash-worker.ts')], outfile: join(outdir, 'migration-crash-worker.js') });
  const require = createRequire(import.meta.url);
  const wasm = join(dirname(require.resolve('@sqlite.org/sqlite-wasm/package.json')), 'sqlite-wasm/jswasm/sqlite3.wasm');
  copyFileSync(wasm, join(outdir, 'sqlite3.wasm'));
  writeFileSync(join(outdir, 'multi-tab.html'), `<!doctype html><meta charset="utf-8"><title>syncline multi-tab test</title><script type="module" src="./multi-tab-page.js"></script>`);
  writeFileSync(join(outdir, 'opfs.html'), `<!doctype html><meta charset="utf-8"><title>syncline OPFS pool test</title><script type="module" src="./opfs-migration-page.js"></script>`);
  writeFileSync(join(outdir, 'index.html'), `<!doctype html><meta charset="utf-8"><title>syncline browser test</title><script type="module" src="./page.js"></script>`);
}
