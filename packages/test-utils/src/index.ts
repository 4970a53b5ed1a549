export * from './embedded-postgres.ts';
export * from './free-port.ts';
export * from './test-database.ts';
export * from './bench-postgres.ts';
export * from './sync-api-process.ts';
export * from './service-env.ts';
export * from './chromium.ts';
