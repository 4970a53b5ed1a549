export { openBetterSqlite3, type BetterSqlite3Options } from './better-sqlite3-adapter.ts';
export { nodeFetch, isLoopbackHost, type NodeFetchOptions } from './node-fetch.ts';
