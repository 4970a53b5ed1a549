/** The version this process reports (Cluster page, `syncline_process_info`): package version, plus the build's git sha. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The `version` of @syncline/sync-api's package.json, found by walking up from this file (works
 * from `src/` under tsx and from a compiled output directory), followed by `+<sha>` (first 12
 * characters) when a build sha is given. `unknown` when no package.json is found.
 */
export function processVersion(buildSha: string | undefined, from = path.dirname(fileURLToPath(import.meta.url))): string {
  let version = 'unknown';
  for (let dir = from, i = 0; i < 8; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@syncline/sync-api' && pkg.version) {
        version = pkg.version;
        break;
      }
    } catch {
      // No package.json here: keep walking up.
    }
    if (path.dirname(dir) === dir) break;
  }
  return buildSha ? `${version}+${buildSha.slice(0, 12)}` : version;
}
