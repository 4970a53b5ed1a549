/** The replicator in its own OS process (node + tsx), so SIGKILL really kills it mid-work. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../packages/engine/test/support/replicator-process.ts');

export function startReplicatorChild(o: { sourceUrl: string; storageUrl: string; publication: string }): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
    env: { ...process.env, SOURCE_URL: o.sourceUrl, STORAGE_URL: o.storageUrl, PUBLICATION: o.publication },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`replicator process exited early (${code})`)));
  });
}

export function sigkill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
