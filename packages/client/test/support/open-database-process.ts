/**
 * Opens the SQLite file named by argv[2] with @syncline/client (which migrates the internal schema)
 * in its own OS process, so a test can SIGKILL it mid-migration. Writes `opening\n` right before the
 * database is opened and `ready\n` once it is.
 */
import { openBetterSqlite3 } from '../../src/adapters/node/index.ts';
import { SynclineDatabase } from '../../src/index.ts';
import { todoSchema } from '../helpers.ts';

const path = process.argv[2];
if (!path) throw new Error('usage: open-database-process.ts <database file>');
process.stdout.write('opening\n');
const db = new SynclineDatabase({ schema: todoSchema, database: openBetterSqlite3({ path }) });
await db.ready;
process.stdout.write('ready\n');
await db.close();
