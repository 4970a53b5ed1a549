import { describe, expect, it } from 'vitest';
import { checkManifest, checkSource } from '../layering-rules.ts';

describe('layering rules (DESIGN.md §1)', () => {
  it('allows engine → protocol', () => {
    expect(checkSource('@syncline/engine', 'a.ts', "import { x } from '@syncline/protocol';", 1)).toEqual([]);
  });
  it('rejects engine → client, client → engine and packages → apps', () => {
    expect(checkSource('@syncline/engine', 'a.ts', "import { x } from '@syncline/client';", 1)[0]?.message).toMatch(/must not import @syncline\/client/);
    expect(checkSource('@syncline/client', 'a.ts', "export * from '@syncline/engine';", 1)[0]?.message).toMatch(/must not import @syncline\/engine/);
    expect(checkSource('@syncline/admin', 'a.ts', "const m = await import('@syncline/sync-api');", 1)).toHaveLength(1);
  });
  it('rejects frameworks in engine and relative imports that leave the package', () => {
    expect(checkSource('@syncline/engine', 'a.ts', "import Fastify from 'fastify';", 1)[0]?.message).toMatch(/framework boundary/);
    expect(checkSource('@syncline/engine', 'a.ts', "import type { AnyRouter } from '@trpc/server';", 1)).toHaveLength(1);
    expect(checkSource('@syncline/engine', 'src/a.ts', "import { x } from '../../protocol/src/index.ts';", 1)[0]?.message).toMatch(/leaves the package/);
    expect(checkSource('@syncline/engine', 'src/sub/a.ts', "import { x } from '../b.ts';", 2)).toEqual([]);
  });
  it('lets tests and benchmarks, but not library code, use the test utilities', () => {
    expect(checkSource('@syncline/engine', 'packages/engine/test/a.ts', "import { x } from '@syncline/test-utils';", 1)).toEqual([]);
    expect(checkSource('@syncline/engine', 'packages/engine/bench/a.ts', "import { x } from '@syncline/test-utils';", 1)).toEqual([]);
    expect(checkSource('@syncline/engine', 'packages/engine/src/a.ts', "import { x } from '@syncline/test-utils';", 1)).toHaveLength(1);
  });
  it('checks package.json dependencies too', () => {
    expect(checkManifest('@syncline/client', 'package.json', { '@syncline/engine': '0.1.0' })).toHaveLength(1);
    expect(checkManifest('@syncline/admin', 'package.json', { '@syncline/engine': '0.1.0' })).toEqual([]);
  });
});
