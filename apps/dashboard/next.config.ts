import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextConfig } from 'next';

/** Monorepo root: dependencies are hoisted there and workspace packages live under it. */
const workspaceRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const nextConfig: NextConfig = {
  // Trace server files from the monorepo root so hoisted node_modules and workspace sources are
  // included in `.next` output (and in a standalone bundle if one is ever enabled).
  outputFileTracingRoot: workspaceRoot,
  turbopack: { root: workspaceRoot },
  // Workspace packages export their TypeScript sources (`./src/index.ts`, `.ts` import extensions).
  transpilePackages: ['@syncline/admin', '@syncline/engine', '@syncline/protocol'],
  poweredByHeader: false,
  reactStrictMode: true,
  typedRoutes: false,
  async headers() {
    return [
      {
        source: '/:path*',
        headers: [
          { key: 'X-Frame-Options', value: 'DENY' },
          { key: 'X-Content-Type-Options', value: 'nosniff' },
          { key: 'Referrer-Policy', value: 'no-referrer' },
        ],
      },
    ];
  },
};

export default nextConfig;
