/** The client-side schema of the demo tables (demo/schema.sql), as synced by the demo's rules. */
import { Schema, Table, column, type RowType } from '@syncline/client';

export const lists = new Table({ owner_id: column.text, name: column.text, created_at: column.text });
export const todos = new Table(
  {
    list_id: column.text,
    owner_id: column.text,
    description: column.text,
    completed: column.integer,
    priority: column.integer,
    created_at: column.text,
    completed_at: column.text,
  },
  { indexes: { list: ['list_id'] } },
);

export const appSchema = new Schema({ lists, todos });

export type ListRow = RowType<typeof lists>;
export type TodoRow = RowType<typeof todos>;
