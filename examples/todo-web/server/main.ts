/** Starts the example backend (`npm start` in examples/todo-web). */
import pg from 'pg';
import { ensureUploadsTable } from './apply-upload.ts';
import { createAppServer } from './app-server.ts';
import { keysFromSecret } from './auth.ts';
import { loadConfig } from './config.ts';

const config = loadConfig();
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 5 });
await ensureUploadsTable(pool);
const server = createAppServer({
  pool,
  keys: keysFromSecret(config.jwtSecret, config.jwtSecretKid),
  syncUrl: config.syncUrl,
  distDir: config.distDir,
  devMode: config.devMode,
  log: (entry) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`),
});
server.listen(config.port, config.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  process.stdout.write(`todo-web: http://${config.host}:${port} (sync API ${config.syncUrl})\n`);
});
const stop = (): void => {
  server.close();
  void pool.end();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
