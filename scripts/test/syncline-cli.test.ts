/**
 * `npm run syncline -- migrate-rules`, run as a child process: stdout / --output, issues on
 * stderr, exit codes (0 ok, 1 fatal issues or unreadable input, 2 bad arguments).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'scripts', 'syncline.ts');

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TSX, [CLI, ...args], { cwd: ROOT, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'syncline-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('syncline migrate-rules', () => {
  it('prints the streams YAML of the demo rules on stdout and the warnings on stderr', async () => {
    const { code, stdout, stderr } = await run('migrate-rules', 'demo/sync-rules.yaml');
    expect(code).toBe(0);
    expect(stdout).toBe(await readFile(path.join(ROOT, 'demo', 'sync-rules.streams.yaml'), 'utf8'));
    expect(stderr).toMatch(/^warning \[MIGRATE_BEHAVIOUR_CHANGE\] Bucket ids change/m);
  });

  it('writes --output and exits 1 when a definition cannot be migrated', async () => {
    const input = path.join(dir, 'rules.yaml');
    const output = path.join(dir, 'streams.yaml');
    await writeFile(input, 'bucket_definitions:\n  ok:\n    data: [SELECT * FROM a]\n  bad:\n    data: [SELECT * FROM b WHERE json_valid(x)]\n');
    const { code, stdout, stderr } = await run('migrate-rules', input, '--output', output);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^fatal \[MIGRATE_UNTRANSLATABLE\] Bucket definition 'bad' was not migrated: Function 'json_valid'/m);
    const written = await readFile(output, 'utf8');
    expect(written).toContain('streams:\n  ok:\n');
    expect(written).toContain("# NOT MIGRATED: bucket definition 'bad'");
  });

  it('reports invalid rules with file, line and column, and exits 1', async () => {
    const input = path.join(dir, 'invalid.yaml');
    await writeFile(input, 'bucket_definitions:\n  d:\n    data: [SELECT * FROM a WHERE x = bucket.nope]\n');
    const { code, stdout, stderr } = await run('migrate-rules', input);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(`${input}:3:`);
    expect(stderr).toMatch(/fatal \[MIGRATE_INVALID_INPUT\] The sync rules are not valid/);
  });

  it('prints the usage and exits 2 on bad arguments', async () => {
    const cases = [[], ['nope'], ['migrate-rules'], ['migrate-rules', 'a.yaml', '--output'], ['migrate-rules', 'a.yaml', '--frobnicate']];
    const results = await Promise.all(cases.map((args) => run(...args)));
    results.forEach(({ code, stderr }, i) => {
      expect(code, cases[i]?.join(' ')).toBe(2);
      expect(stderr).toContain('Usage: npm run syncline -- <command>');
    });
    const missing = await run('migrate-rules', path.join(dir, 'missing.yaml'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Cannot read .*missing\.yaml: ENOENT/);
  });
});
