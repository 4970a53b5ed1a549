/**
 * A replicator in its own process, for crash tests: runs until killed. Env: SOURCE_URL,
 * STORAGE_URL, PUBLICATION. Prints "ready" once started.
 */
import pino from 'pino';
import { Replicator } from '@syncline/engine';

const replicator = new Replicator({
  sourceUrl: process.env.SOURCE_URL!,
  storageUrl: process.env.STORAGE_URL!,
  publication: process.env.PUBLICATION!,
  logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' }),
  pollMs: 100,
  heartbeatMs: 300,
});
replicator.start();
process.stdout.write('ready\n');
process.on('SIGTERM', () => void replicator.stop().then(() => process.exit(0)));
