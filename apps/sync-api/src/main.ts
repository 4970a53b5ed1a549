/** sync-api entry point: config → services → HTTP server; SIGINT/SIGTERM drain streams (bounded), then stop everything and exit 0. */
import pino from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { drainStreams } from './drain.ts';
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
    const started = Date.now();
    logger.info({ signal, drainTimeoutMs: config.DRAIN_TIMEOUT_MS }, 'shutting down');
    // Drain bound + time to stop services; past it the process exits non-zero rather than hang.
    const force = setTimeout(() => {
      logger.error({ afterMs: Date.now() - started }, 'shutdown did not finish in time: exiting');
      process.exit(1);
    }, config.DRAIN_TIMEOUT_MS + 15_000);
    force.unref();
    // 1. Drain: readiness 503, new streams refused, open streams ended cleanly (bounded).
    await drainStreams(services, config.DRAIN_TIMEOUT_MS, logger, () => app.server.closeIdleConnections()).catch((e) => logger.error({ err: e }, 'drain failed'));
    // 2. Stop listening, cut what is left (forceCloseConnections), close WebSockets.
    await app.close().catch((e) => logger.warn({ err: e }, 'error while closing the server'));
    // 3. Services: connection rows deleted, replicator stopped and its lock released, pools ended.
    await services.stop().catch((e) => logger.error({ err: e }, 'error while stopping services'));
    logger.info({ signal, durationMs: Date.now() - started }, 'stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  if (config.EXIT_ON_STDIN_CLOSE) {
    // The parent holds the other end of the pipe: when it dies (even by SIGKILL) stdin ends.
    process.stdin.on('end', () => void shutdown('stdin closed'));
    process.stdin.on('close', () => void shutdown('stdin closed'));
    process.stdin.resume();
  }
}

main().catch((e) => {
  logger.fatal({ err: e }, e instanceof Error ? e.message : 'startup failed');
  process.exit(1);
});
