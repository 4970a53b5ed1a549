/**
 * The allowed import graph of DESIGN.md §1, as data. `check-layering.ts` enforces it over every
 * source file and package.json; the unit test in scripts/test proves the checker catches violations.
 */
export interface LayerRule {
  /** Workspace packages this one may import. */
  allowed: string[];
  /** Third-party packages this one must never import (framework boundaries). */
  forbidden: string[];
}

const FRAMEWORKS = ['fastify', 'ws', 'next', 'react', 'react-dom', '@trpc/server', '@trpc/client', '@trpc/tanstack-react-query'];

export const LAYER_RULES: Record<string, LayerRule> = {
  '@syncline/protocol': { allowed: [], forbidden: [...FRAMEWORKS, 'pg', 'better-sqlite3'] },
  '@syncline/engine': { allowed: ['@syncline/protocol'], forbidden: [...FRAMEWORKS, 'better-sqlite3'] },
  '@syncline/admin': { allowed: ['@syncline/engine', '@syncline/protocol'], forbidden: ['fastify', 'ws', 'next', 'react', 'react-dom'] },
  '@syncline/client': { allowed: ['@syncline/protocol'], forbidden: [...FRAMEWORKS, 'pg'] },
  '@syncline/react': { allowed: ['@syncline/client', '@syncline/protocol'], forbidden: ['fastify', 'ws', 'next', 'pg', 'better-sqlite3', '@trpc/server', '@trpc/client', '@trpc/tanstack-react-query'] },
  '@syncline/test-utils': { allowed: [], forbidden: [] },
  '@syncline/sync-api': { allowed: ['@syncline/admin', '@syncline/engine', '@syncline/protocol', '@syncline/test-utils'], forbidden: ['next', 'react'] },
  '@syncline/dashboard': { allowed: ['@syncline/admin', '@syncline/test-utils'], forbidden: [] },
  // Examples use only the published client packages, as an app team would.
  '@syncline/example-todo-web': { allowed: ['@syncline/client', '@syncline/react'], forbidden: [] },
};

export interface Violation {
  file: string;
  line: number;
  message: string;
}

const TEST_FILE = /(^|\/)(test|bench|e2e)\//;

const IMPORT_RE = /(?:^|[^\w.])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[^\w.])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[^\w.])import\s+['"]([^'"]+)['"]/gm;

/** Checks one file's text against its package's rule. `relativeDepthOk` rejects relative paths leaving the package. */
export function checkSource(pkg: string, file: string, text: string, packageRootDepth: number): Violation[] {
  const rule = LAYER_RULES[pkg];
  if (!rule) return [{ file, line: 1, message: `package ${pkg} has no layering rule in scripts/layering-rules.ts` }];
  const out: Violation[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? '';
    const line = text.slice(0, m.index).split('\n').length;
    // Type-only imports of a router type are allowed across the app boundary (the dashboard needs AdminRouter's type).
    if (spec.startsWith('@syncline/')) {
      const target = spec.split('/').slice(0, 2).join('/');
      // Tests, benchmarks and e2e fixtures may use the private test utilities.
      if (target === '@syncline/test-utils' && TEST_FILE.test(file)) continue;
      // An app's tests and benchmarks may drive it with our client SDK (apps → packages, DESIGN.md §1).
      if (target === '@syncline/client' && pkg === '@syncline/sync-api' && TEST_FILE.test(file)) continue;
      if (target !== pkg && !rule.allowed.includes(target)) out.push({ file, line, message: `${pkg} must not import ${target} (DESIGN.md §1)` });
      continue;
    }
    if (spec.startsWith('.')) {
      const ups = spec.split('/').filter((s) => s === '..').length;
      if (ups > packageRootDepth) out.push({ file, line, message: `relative import "${spec}" leaves the package; import other workspaces by name` });
      continue;
    }
    const base = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    // Node 20 has no global WebSocket: the client's tests inject `ws`, as a Node app would.
    if (base === 'ws' && pkg === '@syncline/client' && TEST_FILE.test(file)) continue;
    if (rule.forbidden.includes(base)) out.push({ file, line, message: `${pkg} must not import ${base} (framework boundary, DESIGN.md §1)` });
  }
  return out;
}

/** Checks declared dependencies of a package.json against the rule. */
export function checkManifest(pkg: string, file: string, deps: Record<string, string>): Violation[] {
  const rule = LAYER_RULES[pkg];
  if (!rule) return [];
  return Object.keys(deps)
    .filter((d) => d.startsWith('@syncline/') && !rule.allowed.includes(d))
    .map((d) => ({ file, line: 1, message: `${pkg} must not depend on ${d} (DESIGN.md §1)` }));
}
