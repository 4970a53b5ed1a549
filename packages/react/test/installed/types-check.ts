// Type-checked with the workspace's tsc inside the temporary project: the installed declarations
// resolve through the exports map (NodeNext) and carry the real types.
import { SynclineDatabase, Schema, Table, column, type SyncStatus } from '@syncline/client';
import { openBetterSqlite3 } from '@syncline/client/node';
import { openWasmSqlite } from '@syncline/client/browser';
import { useQuery, type UseQueryResult } from '@syncline/react';

const db = new SynclineDatabase({ schema: new Schema({ t: new Table({ a: column.text }) }), database: openBetterSqlite3({ path: ':memory:' }) });
const status: SyncStatus = db.currentStatus;
const connected: boolean = status.connected;
const hook: (sql: string) => UseQueryResult<{ a: string }> = (sql) => useQuery<{ a: string }>(sql, []);
export { connected, hook, openWasmSqlite };
