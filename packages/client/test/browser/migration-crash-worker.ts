/**
 * The real SQLite worker with a crash point in the legacy-pool migration (test bundle only): at
 * the step named by the worker URL's `crashAt` parameter it announces the step on the
 * BroadcastChannel `migration-test` and stops there, for the test to kill the page. With
 * `tamper=1` it first overwrites the imported copy with its first half (a torn import).
 */
import { setMigrationTestHook } from '../../src/adapters/browser/opfs-legacy-migration.ts';
import '../../src/adapters/browser/sqlite-worker.ts';

const params = new URL(self.location.href).searchParams;
const crashAt = params.get('crashAt');
const tamper = params.get('tamper') === '1';

setMigrationTestHook(async (step, { target, path }) => {
  if (step !== crashAt) return;
  if (tamper) {
    const bytes = await target.exportFile(path);
    target.unlink(path); // importDb over an existing file would write in place and keep its length
    await target.importDb(path, bytes.subarray(0, Math.max(512, Math.floor(bytes.byteLength / 1024) * 512)));
  }
  new BroadcastChannel('migration-test').postMessage(step);
  await new Promise(() => undefined); // never returns: the page is killed here
});
