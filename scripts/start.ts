/**
 * `npm start`: the whole system on one machine. Without SOURCE_DATABASE_URL it boots an embedded
 * Postgres (wal_level=logical) under .data/, creates the demo source database with seed data,
 * then starts sync-api (which creates + migrates the storage database and deploys the demo sync
 * rules) and the dashboard, and prints URLs, the database URL, the admin token and a dev JWT.
 * Ctrl-C (SIGINT/SIGTERM) stops every child and Postgres. A run killed with SIGKILL is cleaned up
 * by the next start (stale processes from the pid file, stale postmaster.pid).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres, type RunningPostgres } from '@syncline/test-utils';
import { killStaleRun, writeRunFile } from './start-support.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DATA = path.join(ROOT, '.data');
const env = process.env;
const syncPort = Number(env.SYNC_API_PORT ?? 8080);
const dashboardPort = Number(env.DASHBOARD_PORT ?? 3000);
const pgPort = Number(env.EMBEDDED_PG_PORT ?? 54320);
/**
 * The demo ships its sync rules in two forms: `demo/sync-rules.streams.yaml` (Sync Streams,
 * edition 3) and `demo/sync-rules.yaml` (legacy bucket_definitions). `DEMO_RULES=streams|legacy`
 * (or `npm start -- --streams-rules` / `--legacy-rules`) picks one; SYNC_RULES_PATH overrides
 * both. The default is Sync Streams, the form new apps start with.
 */
const DEFAULT_DEMO_RULES: 'streams' | 'legacy' = 'streams';
const DEMO_RULES_FILES = { streams: 'sync-rules.streams.yaml', legacy: 'sync-rules.yaml' } as const;
const demoRules: 'streams' | 'legacy' = process.argv.includes('--streams-rules')
  ? 'streams'
  : process.argv.includes('--legacy-rules')
    ? 'legacy'
    : env.DEMO_RULES === 'streams' || env.DEMO_RULES === 'legacy'
      ? env.DEMO_RULES
      : DEFAULT_DEMO_RULES;
const t0 = performance.now();
const log = (msg: string) => process.stdout.write(`[syncline] ${msg}\n`);

const children: ChildProcess[] = [];
let postgres: RunningPostgres | null = null;
let stopping = false;

async function main(): Promise<void> {
  await mkdir(DATA, { recursive: true });
  await killStaleRun(DATA, log);
  const secrets = await loadSecrets();

  let sourceUrl = env.SOURCE_DATABASE_URL;
  if (!sourceUrl) {
    log(`starting embedded Postgres on 127.0.0.1:${pgPort} (data in .data/pg)…`);
    postgres = await startEmbeddedPostgres({ dataDir: path.join(DATA, 'pg'), port: pgPort, password: secrets.pgPassword });
    await writeRunFile(DATA, { postgresPort: pgPort, children: [] });
    sourceUrl = postgres.url('syncline_demo');
    await prepareDemoDatabase(postgres.url('postgres'), sourceUrl);
  }

  const childEnv = {
    ...env,
    SOURCE_DATABASE_URL: sourceUrl,
    SYNC_API_PORT: String(syncPort),
    ADMIN_TOKEN: env.ADMIN_TOKEN ?? secrets.adminToken,
    JWT_SECRET: env.JWT_SECRET ?? secrets.jwtSecret,
    SYNC_RULES_PATH: env.SYNC_RULES_PATH ?? path.join(ROOT, 'demo', DEMO_RULES_FILES[demoRules]),
    DEV_MODE: env.DEV_MODE ?? 'true',
    SYNC_API_URL: `http://127.0.0.1:${syncPort}`,
    DASHBOARD_PORT: String(dashboardPort),
  };
  log(`sync rules: ${path.relative(ROOT, childEnv.SYNC_RULES_PATH)}${env.SYNC_RULES_PATH ? '' : ` (${demoRules} form; DEMO_RULES=streams|legacy picks the other)`}`);
  const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  children.push(spawnChild('sync-api', tsx, [path.join(ROOT, 'apps/sync-api/src/main.ts')], childEnv));
  await writeRunFile(DATA, { postgresPort: postgres ? pgPort : null, children: children.map((c) => c.pid!) });
  await waitFor(`http://127.0.0.1:${syncPort}/probes/liveness`, 'sync-api', 60_000);

  const dashboardDir = path.join(ROOT, 'apps/dashboard');
  const next = path.join(ROOT, 'node_modules', '.bin', 'next');
  if (!existsSync(path.join(dashboardDir, '.next', 'BUILD_ID'))) {
    log('building the dashboard (first start only)…');
    await run(next, ['build'], dashboardDir, childEnv);
  }
  children.push(spawnChild('dashboard', next, ['start', '-p', String(dashboardPort), '-H', '127.0.0.1'], childEnv, dashboardDir));
  await writeRunFile(DATA, { postgresPort: postgres ? pgPort : null, children: children.map((c) => c.pid!) });
  await waitFor(`http://127.0.0.1:${dashboardPort}/login`, 'dashboard', 120_000);

  const jwt = await devToken(childEnv.ADMIN_TOKEN, 'user-1');
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  process.stdout.write(
    [
      '',
      `Syncline is up (${seconds} s).`,
      `  Sync API      http://127.0.0.1:${syncPort}   (POST /sync/stream, /probes/liveness, /metrics)`,
      `  Dashboard     http://127.0.0.1:${dashboardPort}   (log in with the admin token)`,
      `  Source DB     ${sourceUrl}`,
      `  Admin token   ${childEnv.ADMIN_TOKEN}`,
      `  Dev JWT       ${jwt ?? '(not available: DEV_MODE off)'}`,
      `                (user "user-1"; try: curl -N -X POST -H "Authorization: Bearer <jwt>" http://127.0.0.1:${syncPort}/sync/stream)`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}

function spawnChild(name: string, cmd: string, args: string[], childEnv: NodeJS.ProcessEnv, cwd = ROOT): ChildProcess {
  const child = spawn(cmd, args, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => `[${name}] ${l}\n`)
      .join('');
  child.stdout?.on('data', (c: Buffer) => process.stdout.write(prefix(c)));
  child.stderr?.on('data', (c: Buffer) => process.stderr.write(prefix(c)));
  child.on('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited unexpectedly (code ${code}, signal ${signal}); stopping everything.`);
      void shutdown(1);
    }
  });
  return child;
}

function run(cmd: string, args: string[], cwd: string, childEnv: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env: childEnv, stdio: 'inherit' });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed with code ${code}`))));
  });
}

async function waitFor(url: string, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping) throw new Error('stopping');
    try {
      const res = await fetch(url, { redirect: 'manual' });
      if (res.status < 500) return;
    } catch {
      /* not up yet */
    }
    await sleep(250);
  }
  throw new Error(`${name} did not come up at ${url} within ${timeoutMs / 1000} s`);
}

async function devToken(adminToken: string, userId: string): Promise<string | null> {
  const res = await fetch(`http://127.0.0.1:${syncPort}/api/auth/dev-token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: userId }),
  });
  if (!res.ok) return null;
  return ((await res.json()) as { data: { token: string } }).data.token;
}

async function prepareDemoDatabase(adminUrl: string, sourceUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'syncline_demo'`);
  if (!exists.rowCount) await admin.query('CREATE DATABASE syncline_demo');
  await admin.end();
  const db = new pg.Client({ connectionString: sourceUrl });
  await db.connect();
  await db.query(readFileSync(path.join(ROOT, 'demo', 'schema.sql'), 'utf8'));
  await db.query(readFileSync(path.join(ROOT, 'demo', 'seed.sql'), 'utf8'));
  const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM todos');
  await db.end();
  log(`demo database ready (${rows[0]?.n} todos)`);
}

interface Secrets {
  adminToken: string;
  jwtSecret: string;
  pgPassword: string;
}

/** Generated on first start and kept in .data/secrets.json so restarts keep tokens valid. */
async function loadSecrets(): Promise<Secrets> {
  const file = path.join(DATA, 'secrets.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Secrets;
  } catch {
    const s: Secrets = {
      adminToken: randomBytes(24).toString('base64url'),
      jwtSecret: randomBytes(32).toString('base64url'),
      pgPassword: randomBytes(12).toString('hex'),
    };
    await writeFile(file, JSON.stringify(s, null, 2), { mode: 0o600 });
    return s;
  }
}

async function shutdown(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping…');
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
  await postgres?.stop().catch(() => {});
  await rm(path.join(DATA, 'run.json'), { force: true });
  log('stopped.');
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
main().catch((e: Error) => {
  process.stderr.write(`[syncline] start failed: ${e.message}\n`);
  void shutdown(1);
});
