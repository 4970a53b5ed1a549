/** sync-api entry point: config → services → HTTP server; SIGINT/SIGTERM stop everything cleanly. */
import pino from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { buildServer } from './server.ts';
import { createServices } from './services.ts';

const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  redact: { paths: ['req.headers.authorization', '*.token', '*.password', 'config.ADMIN_TOKEN', 'config.JWT_SECRET', 'config.JWT_SECRETS_PREVIOUS'], censor: '[redacted]' },
});

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  logger.level = config.LOG_LEVEL;
  // Every line names the process and its role, so logs of a cluster can be told apart.
  logger.setBindings({ process: config.PROCESS_NAME, role: config.SYNC_RUNNER });
  const services = await createServices(config, logger);
  const app = await buildServer(services, logger);
  await app.listen({ port: config.SYNC_API_PORT, host: config.SYNC_API_HOST });
  logger.info({ port: config.SYNC_API_PORT, runner: config.SYNC_RUNNER }, 'sync-api listening');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    services.shuttingDown = true;
    await services.stop().catch((e) => logger.error({ err: e }, 'error while stopping services'));
    await app.close().catch(() => {});
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((e) => {
  logger.fatal({ err: e }, e instanceof Error ? e.message : 'startup failed');
  process.exit(1);
});
