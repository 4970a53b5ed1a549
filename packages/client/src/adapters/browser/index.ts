export { multiTabSupported, openWasmSqlite, type WasmSqliteOptions, type WasmSqliteAdapter } from './wasm-sqlite-adapter.ts';
export type { WasmVfs } from './worker-protocol.ts';
