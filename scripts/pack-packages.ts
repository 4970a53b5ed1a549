/**
 * `npm run pack:packages [-- <outDir>]`: builds `@syncline/protocol`, `@syncline/client` and
 * `@syncline/react` and packs each into an npm tarball (default `.data/packages/`).
 *
 * Inside the workspace the packages' `exports` point at their TypeScript sources (the dashboard,
 * vitest, tsx and esbuild read those). The published manifest is generated here instead: each
 * package is staged with its `dist/`, `src/` (for the source maps) and README, and a package.json
 * whose `exports` map every entry to types + JavaScript in `dist/`, without `private`, scripts or
 * dev dependencies, and with `^version` ranges for sibling packages. Then `npm pack`.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPackage } from './build-package.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Publishable packages, in build order (each depends only on earlier ones). */
export const PUBLISHED = ['protocol', 'client', 'react'] as const;

type Manifest = Record<string, unknown> & {
  name: string;
  version: string;
  exports: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, unknown>;
};

type ExportTarget = string | { types: string; default: string };

/** Entries added to the published map only (files that exist only after the build). */
const EXTRA_EXPORTS: Record<string, Record<string, ExportTarget>> = {
  '@syncline/client': { './sqlite3.wasm': './dist/sqlite3.wasm' },
};

/** Maps a workspace export target (`./src/x.ts`) to its built files. */
export function distTarget(source: string): ExportTarget {
  const m = /^\.\/src\/(.+)\.tsx?$/.exec(source);
  if (!m) return source;
  return { types: `./dist/${m[1]}.d.ts`, default: `./dist/${m[1]}.js` };
}

/** The manifest published for a workspace package. */
export function publishedManifest(source: Manifest, siblingVersions: ReadonlyMap<string, string>): Record<string, unknown> {
  const exports: Record<string, ExportTarget> = {};
  for (const [key, target] of Object.entries(source.exports)) exports[key] = distTarget(target);
  Object.assign(exports, EXTRA_EXPORTS[source.name] ?? {});
  exports['./package.json'] = './package.json';
  const ranges = (deps: Record<string, string> | undefined): Record<string, string> | undefined => {
    if (!deps) return undefined;
    const out: Record<string, string> = {};
    for (const [name, range] of Object.entries(deps)) {
      const sibling = siblingVersions.get(name);
      if (name.startsWith('@syncline/') && !sibling) throw new Error(`${source.name} depends on unpublished ${name}`);
      out[name] = sibling ? `^${sibling}` : range;
    }
    return out;
  };
  const main = exports['.'];
  const manifest: Record<string, unknown> = {
    name: source.name,
    version: source.version,
    description: source['description'],
    type: 'module',
    main: typeof main === 'object' ? main.default : undefined,
    types: typeof main === 'object' ? main.types : undefined,
    exports,
    files: ['dist', 'src', 'README.md'],
    sideEffects: source.name === '@syncline/client' ? ['./dist/adapters/browser/sqlite-worker.js'] : false,
    dependencies: ranges(source.dependencies),
    peerDependencies: source.peerDependencies,
    peerDependenciesMeta: source.peerDependenciesMeta,
    engines: { node: '>=20.19' },
  };
  return JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
}

/** Builds, stages and packs the publishable packages; returns the tarball paths by package name. */
export function packPackages(outDir: string, options: { build?: boolean } = {}): Map<string, string> {
  mkdirSync(outDir, { recursive: true });
  const stageRoot = path.join(outDir, 'stage');
  rmSync(stageRoot, { recursive: true, force: true });
  const manifests = PUBLISHED.map((dir) => ({ dir: path.join(ROOT, 'packages', dir), manifest: JSON.parse(readFileSync(path.join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as Manifest }));
  const versions = new Map(manifests.map((m) => [m.manifest.name, m.manifest.version]));
  const tarballs = new Map<string, string>();
  for (const { dir, manifest } of manifests) {
    if (options.build !== false) buildPackage(dir);
    const stage = path.join(stageRoot, path.basename(dir));
    mkdirSync(stage, { recursive: true });
    cpSync(path.join(dir, 'dist'), path.join(stage, 'dist'), { recursive: true });
    cpSync(path.join(dir, 'src'), path.join(stage, 'src'), { recursive: true });
    if (existsSync(path.join(dir, 'README.md'))) cpSync(path.join(dir, 'README.md'), path.join(stage, 'README.md'));
    writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(publishedManifest(manifest, versions), null, 2)}\n`);
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', outDir], { cwd: stage, encoding: 'utf8' });
    const [info] = JSON.parse(out) as { filename: string }[];
    if (!info) throw new Error(`npm pack printed nothing for ${manifest.name}`);
    tarballs.set(manifest.name, path.join(outDir, info.filename));
  }
  rmSync(stageRoot, { recursive: true, force: true });
  return tarballs;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(fileURLToPath(import.meta.url))) {
  const outDir = path.resolve(process.argv[2] ?? path.join(ROOT, '.data/packages'));
  for (const [name, file] of packPackages(outDir)) process.stdout.write(`${name}: ${file}\n`);
}
