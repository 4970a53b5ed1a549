/**
 * `npm run build` in a publishable package (protocol, client, react): compiles `src/` with
 * `tsconfig.build.json` into `dist/` (JavaScript, `.d.ts`, source maps). tsc rewrites relative
 * `.ts` imports to `.js` in the JavaScript only, so the declarations are rewritten here the same
 * way (a `.d.ts` that imports `./x.ts` does not resolve in a consumer's project). The client also
 * gets a copy of `sqlite3.wasm`, so the installed package can export it (`@syncline/client/sqlite3.wasm`).
 *
 * Usage (from a package directory): `tsx ../../scripts/build-package.ts`
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Rewrites `from './x.ts'` / `import('./x.ts')` specifiers in declaration text to `.js`. */
export function rewriteDeclarationImports(text: string): string {
  return text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+?)\.(m|c)?tsx?(['"])/g, (_m, head: string, spec: string, kind: string | undefined, quote: string) => `${head}${spec}.${kind ?? ''}js${quote}`);
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else out.push(full);
  }
  return out;
}

/** Builds the package in `pkgDir` into `pkgDir/dist`. */
export function buildPackage(pkgDir: string): void {
  const dist = path.join(pkgDir, 'dist');
  rmSync(dist, { recursive: true, force: true });
  const require = createRequire(path.join(pkgDir, 'package.json'));
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: pkgDir, stdio: 'inherit' });
  for (const file of walk(dist)) {
    if (!file.endsWith('.d.ts')) continue;
    const text = readFileSync(file, 'utf8');
    const rewritten = rewriteDeclarationImports(text);
    if (rewritten !== text) writeFileSync(file, rewritten);
  }
  const name = (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { name: string }).name;
  if (name === '@syncline/client') {
    const wasmPkg = path.dirname(require.resolve('@sqlite.org/sqlite-wasm/package.json'));
    copyFileSync(path.join(wasmPkg, 'sqlite-wasm/jswasm/sqlite3.wasm'), path.join(dist, 'sqlite3.wasm'));
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(fileURLToPath(import.meta.url))) {
  buildPackage(process.cwd());
}
