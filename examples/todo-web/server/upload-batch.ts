/**
 * Pure validation of one uploaded CRUD transaction: the JSON body `{client_id, batch_id, ops}`
 * becomes typed operations on a whitelist of tables and columns. Nothing here touches the
 * database; ownership is checked when the batch is applied (apply-upload.ts).
 */
import { UploadError } from './upload-errors.ts';

export type UploadTable = 'lists' | 'todos';
export type UploadOpType = 'PUT' | 'PATCH' | 'DELETE';
export type UploadValue = string | number | boolean | null;

export interface UploadOp {
  op: UploadOpType;
  table: UploadTable;
  id: string;
  /** Whitelisted columns only (never `id`; `owner_id` is set by the server). */
  data: Record<string, UploadValue>;
}

export interface UploadBatch {
  /** The client database's id (`db.getClientId()`). */
  clientId: string;
  /** The first queue entry's `op_id`: unique per client database, the same on every retry. */
  batchId: number;
  ops: UploadOp[];
}

/** Columns a client may write, per table, with their value check. */
const COLUMNS: Record<UploadTable, Record<string, (v: unknown) => boolean>> = {
  lists: {
    name: (v) => typeof v === 'string',
    owner_id: (v) => typeof v === 'string',
    created_at: (v) => v === null || typeof v === 'string',
  },
  todos: {
    list_id: (v) => typeof v === 'string',
    description: (v) => typeof v === 'string',
    completed: (v) => typeof v === 'boolean' || v === 0 || v === 1,
    priority: (v) => typeof v === 'number' && Number.isInteger(v),
    owner_id: (v) => typeof v === 'string',
    created_at: (v) => v === null || typeof v === 'string',
    completed_at: (v) => v === null || typeof v === 'string',
  },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MAX_OPS = 1000;
export const MAX_DESCRIPTION = 200;
export const MAX_LIST_NAME = 100;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(message: string): UploadError {
  return new UploadError('MALFORMED_BATCH', message);
}

function parseOp(raw: unknown, index: number): UploadOp {
  const at = `ops[${index}]`;
  if (!isRecord(raw)) throw malformed(`${at} must be an object {op, type, id, data}.`);
  const { op, type, id, data } = raw;
  if (op !== 'PUT' && op !== 'PATCH' && op !== 'DELETE') throw malformed(`${at}.op must be PUT, PATCH or DELETE.`);
  if (type !== 'lists' && type !== 'todos') throw malformed(`${at}.type "${String(type)}" is not writable; this backend accepts lists and todos.`);
  if (typeof id !== 'string' || !UUID.test(id)) throw malformed(`${at}.id must be a UUID.`);
  const columns = COLUMNS[type];
  const out: Record<string, UploadValue> = {};
  if (op !== 'DELETE') {
    if (data !== undefined && data !== null && !isRecord(data)) throw malformed(`${at}.data must be an object.`);
    for (const [key, value] of Object.entries(data ?? {})) {
      const check = columns[key];
      if (!check) throw malformed(`${at}.data.${key} is not a writable column of ${type}.`);
      if (!check(value)) throw malformed(`${at}.data.${key} has the wrong type.`);
      out[key] = key === 'completed' ? Boolean(value) : (value as UploadValue);
    }
  }
  checkValues(type, op, out, at);
  return { op, table: type, id, data: out };
}

function checkValues(table: UploadTable, op: UploadOpType, data: Record<string, UploadValue>, at: string): void {
  const invalid = (m: string) => new UploadError('INVALID_VALUE', `${at}: ${m}`);
  if (table === 'lists') {
    if (op === 'PUT' && typeof data['name'] !== 'string') throw malformed(`${at}: a new list needs a name.`);
    const name = data['name'];
    if (typeof name === 'string' && (name.trim() === '' || name.length > MAX_LIST_NAME)) throw invalid(`a list name must have 1 to ${MAX_LIST_NAME} characters.`);
  } else {
    if (op === 'PUT' && (typeof data['list_id'] !== 'string' || typeof data['description'] !== 'string')) throw malformed(`${at}: a new todo needs list_id and description.`);
    const listId = data['list_id'];
    if (typeof listId === 'string' && !UUID.test(listId)) throw malformed(`${at}.data.list_id must be a UUID.`);
    const d = data['description'];
    if (typeof d === 'string' && (d.trim() === '' || d.length > MAX_DESCRIPTION)) throw invalid(`a todo description must have 1 to ${MAX_DESCRIPTION} characters (got ${d.length}).`);
  }
}

/** Parses a request body into a batch, or throws `MALFORMED_BATCH` / `INVALID_VALUE`. */
export function parseUploadBatch(body: unknown): UploadBatch {
  if (!isRecord(body)) throw malformed('The body must be a JSON object {client_id, batch_id, ops}.');
  const { client_id: clientId, batch_id: batchId, ops } = body;
  if (typeof clientId !== 'string' || clientId === '' || clientId.length > 100) throw malformed('client_id must be a non-empty string (db.getClientId()).');
  if (typeof batchId !== 'number' || !Number.isSafeInteger(batchId) || batchId < 0) throw malformed('batch_id must be a non-negative integer (the first entry\'s op_id).');
  if (!Array.isArray(ops) || ops.length === 0) throw malformed('ops must be a non-empty array.');
  if (ops.length > MAX_OPS) throw malformed(`A batch holds at most ${MAX_OPS} operations; upload one transaction at a time.`);
  return { clientId, batchId, ops: ops.map(parseOp) };
}
