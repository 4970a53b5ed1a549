/**
 * A pgoutput (protocol v1) decoder that keeps column values as Postgres text, exactly as sent.
 * The decoder in pg-logical-replication converts values with pg-types (lossy for int8/numeric,
 * and slower); the sync-rules value mapping wants the raw text. Unchanged TOAST values decode as
 * `undefined`.
 */
import { bigIntToLsn } from './lsn.ts';

export interface RelationColumn {
  name: string;
  typeOid: number;
  typeMod: number;
  /** Part of the replica identity (flag bit 1). */
  isKey: boolean;
}

export interface RelationMessage {
  tag: 'relation';
  relationOid: number;
  schema: string;
  name: string;
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  columns: RelationColumn[];
}

export type TupleValues = Record<string, string | null | undefined>;

export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: string; commitTime: number; xid: number }
  | { tag: 'commit'; commitLsn: string; endLsn: string; commitTime: number }
  | RelationMessage
  | { tag: 'insert'; relationOid: number; new: TupleValues }
  | { tag: 'update'; relationOid: number; key: TupleValues | null; old: TupleValues | null; new: TupleValues }
  | { tag: 'delete'; relationOid: number; key: TupleValues | null; old: TupleValues | null }
  | { tag: 'truncate'; relationOids: number[]; cascade: boolean; restartIdentity: boolean }
  | { tag: 'message'; transactional: boolean; lsn: string; prefix: string; content: string }
  | { tag: 'type'; typeOid: number; schema: string; name: string }
  | { tag: 'origin'; lsn: string; name: string };

const IDENTITY: Record<string, RelationMessage['replicaIdentity']> = { d: 'default', n: 'nothing', f: 'full', i: 'index' };
const PG_EPOCH_MS = 946_684_800_000; // 2000-01-01T00:00:00Z
const decoder = new TextDecoder();

export class PgoutputDecoder {
  private readonly relations = new Map<number, RelationMessage>();
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  relation(oid: number): RelationMessage | undefined {
    return this.relations.get(oid);
  }

  decode(message: Buffer): PgoutputMessage {
    this.buf = message;
    this.pos = 1;
    const tag = String.fromCharCode(message[0]!);
    switch (tag) {
      case 'B':
        return { tag: 'begin', finalLsn: this.lsn(), commitTime: this.timestamp(), xid: this.int32() };
      case 'C': {
        this.pos += 1; // flags
        return { tag: 'commit', commitLsn: this.lsn(), endLsn: this.lsn(), commitTime: this.timestamp() };
      }
      case 'R': {
        const relationOid = this.uint32();
        const schema = this.cstring();
        const name = this.cstring();
        const replicaIdentity = IDENTITY[String.fromCharCode(this.byte())] ?? 'default';
        const n = this.int16();
        const columns: RelationColumn[] = [];
        for (let i = 0; i < n; i++) {
          const flags = this.byte();
          columns.push({ isKey: (flags & 1) === 1, name: this.cstring(), typeOid: this.uint32(), typeMod: this.int32() });
        }
        const rel: RelationMessage = { tag: 'relation', relationOid, schema, name, replicaIdentity, columns };
        this.relations.set(relationOid, rel);
        return rel;
      }
      case 'I': {
        const relationOid = this.uint32();
        this.pos += 1; // 'N'
        return { tag: 'insert', relationOid, new: this.tuple(relationOid) };
      }
      case 'U': {
        const relationOid = this.uint32();
        let key: TupleValues | null = null;
        let old: TupleValues | null = null;
        // Optional 'K' (key) or 'O' (old row) tuple, then 'N' and the new tuple.
        const kind = String.fromCharCode(this.byte());
        if (kind === 'K') key = this.tuple(relationOid);
        else if (kind === 'O') old = this.tuple(relationOid);
        if (kind === 'K' || kind === 'O') this.pos += 1; // 'N'
        return { tag: 'update', relationOid, key, old, new: this.tuple(relationOid) };
      }
      case 'D': {
        const relationOid = this.uint32();
        const kind = String.fromCharCode(this.byte());
        const values = this.tuple(relationOid);
        return { tag: 'delete', relationOid, key: kind === 'K' ? values : null, old: kind === 'O' ? values : null };
      }
      case 'T': {
        const n = this.int32();
        const options = this.byte();
        const relationOids: number[] = [];
        for (let i = 0; i < n; i++) relationOids.push(this.uint32());
        return { tag: 'truncate', relationOids, cascade: (options & 1) === 1, restartIdentity: (options & 2) === 2 };
      }
      case 'M': {
        const flags = this.byte();
        const lsn = this.lsn();
        const prefix = this.cstring();
        const len = this.int32();
        const content = decoder.decode(this.buf.subarray(this.pos, this.pos + len));
        this.pos += len;
        return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content };
      }
      case 'Y':
        return { tag: 'type', typeOid: this.uint32(), schema: this.cstring(), name: this.cstring() };
      case 'O':
        return { tag: 'origin', lsn: this.lsn(), name: this.cstring() };
      default:
        throw new Error(`Unknown pgoutput message type "${tag}"`);
    }
  }

  private tuple(relationOid: number): TupleValues {
    const rel = this.relations.get(relationOid);
    if (!rel) throw new Error(`pgoutput: tuple for unknown relation ${relationOid} (no Relation message seen)`);
    const n = this.int16();
    const out: TupleValues = {};
    const cols = rel.columns;
    for (let i = 0; i < n; i++) {
      const kind = this.buf[this.pos++]!;
      const name = cols[i]?.name ?? `column_${i}`;
      if (kind === 0x6e /* n */) out[name] = null;
      else if (kind === 0x75 /* u */) out[name] = undefined;
      else {
        const len = this.int32();
        out[name] = this.buf.toString('utf8', this.pos, this.pos + len);
        this.pos += len;
      }
    }
    return out;
  }

  private byte(): number {
    return this.buf[this.pos++]!;
  }
  private int16(): number {
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  private int32(): number {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  private uint32(): number {
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  private lsn(): string {
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return bigIntToLsn(v);
  }
  private timestamp(): number {
    const micros = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return PG_EPOCH_MS + Number(micros / 1000n);
  }
  private cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
}
