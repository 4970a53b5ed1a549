export {};
export * from './checksum.ts';
export * from './lossless-json.ts';
export * from './bucket-id.ts';
export * from './sync-lines.ts';
export * from './service-errors.ts';
export * from './rsocket-frames.ts';
