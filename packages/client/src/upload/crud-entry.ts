/**
 * One queued local write, as handed to `connector.uploadData`. `opData` is parsed losslessly:
 * integers beyond 2^53 arrive as `bigint`, exactly as written.
 *
 * Backend semantics: PUT = insert or replace with these columns (a missing key means NULL);
 * PATCH = update only these columns; DELETE = delete by id.
 */
import { parseLosslessJson } from '@syncline/protocol';

export type UpdateType = 'PUT' | 'PATCH' | 'DELETE';

export type CrudValue = string | number | bigint | boolean | null | CrudValue[] | { [key: string]: CrudValue };

export interface CrudEntryJson {
  op_id: number;
  op: UpdateType;
  type: string;
  id: string;
  tx_id: number | undefined;
  data: Record<string, CrudValue> | undefined;
  old: Record<string, CrudValue> | undefined;
}

export class CrudEntry {
  constructor(
    /** Position in the upload queue (`sl_crud.id`). */
    readonly clientId: number,
    readonly op: UpdateType,
    /** Schema table name (not the view name). */
    readonly table: string,
    readonly id: string,
    readonly transactionId: number | undefined,
    readonly opData: Record<string, CrudValue> | undefined,
    readonly previousValues: Record<string, CrudValue> | undefined,
  ) {}

  /** Builds an entry from a `sl_crud` row. */
  static fromRow(row: { id: number; tx_id: number | null; data: string }): CrudEntry {
    const parsed = parseLosslessJson(row.data) as Record<string, CrudValue>;
    const data = parsed['data'];
    const old = parsed['old'];
    return new CrudEntry(
      Number(row.id),
      parsed['op'] as UpdateType,
      String(parsed['type']),
      String(parsed['id']),
      row.tx_id === null ? undefined : Number(row.tx_id),
      isObject(data) ? data : undefined,
      isObject(old) ? old : undefined,
    );
  }

  toJSON(): CrudEntryJson {
    return { op_id: this.clientId, op: this.op, type: this.table, id: this.id, tx_id: this.transactionId, data: this.opData, old: this.previousValues };
  }
}

function isObject(v: CrudValue | undefined): v is Record<string, CrudValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
