/**
 * The logger the SDK writes to. `console` fits as is; wrap pino as `{ info: (m, d) => log.info(d, m), … }`;
 * defaults to a silent logger. The SDK never logs tokens.
 */
export interface Logger {
  debug(message: string, details?: Record<string, unknown>): void;
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

const noop = (): void => {};

export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
