export {};
export * from './sync-rules/index.ts';
