/**
 * PostGIS helpers: `st_asgeojson`, `st_astext`, `st_x`, `st_y` over geometry values as they are
 * synced (hex-encoded (E)WKB text, or a blob). Invalid input yields NULL.
 */
import type { SqliteValue } from './types.ts';

type Coord = number[];
type Geometry =
  | { type: 'Point'; coordinates: Coord }
  | { type: 'LineString' | 'MultiPoint'; coordinates: Coord[] }
  | { type: 'Polygon' | 'MultiLineString'; coordinates: Coord[][] }
  | { type: 'MultiPolygon'; coordinates: Coord[][][] }
  | { type: 'GeometryCollection'; geometries: Geometry[] };

const TYPE_NAMES = ['', 'Point', 'LineString', 'Polygon', 'MultiPoint', 'MultiLineString', 'MultiPolygon', 'GeometryCollection'] as const;

class WkbReader {
  pos = 0;
  private little = true;
  constructor(private readonly view: DataView) {}

  geometry(depth: number): Geometry {
    if (depth > 32) throw new Error('nested too deeply');
    this.little = this.u8() === 1;
    let type = this.u32();
    // EWKB flags: Z 0x80000000, M 0x40000000, SRID 0x20000000; ISO WKB: +1000 (Z), +2000 (M), +3000 (ZM).
    let dims = 2;
    if (type & 0x80000000) dims++;
    if (type & 0x40000000) dims++;
    if (type & 0x20000000) this.u32();
    type &= 0x0fffffff;
    if (type >= 1000) {
      const iso = Math.floor(type / 1000);
      dims = iso === 3 ? 4 : 3;
      type %= 1000;
    }
    const name = TYPE_NAMES[type];
    switch (name) {
      case 'Point':
        return { type: name, coordinates: this.coord(dims) };
      case 'LineString':
        return { type: name, coordinates: this.coords(dims) };
      case 'Polygon':
        return { type: name, coordinates: this.repeat(() => this.coords(dims)) };
      case 'MultiPoint':
        return { type: name, coordinates: this.repeat(() => (this.geometry(depth + 1) as { coordinates: Coord }).coordinates) };
      case 'MultiLineString':
        return { type: name, coordinates: this.repeat(() => (this.geometry(depth + 1) as { coordinates: Coord[] }).coordinates) };
      case 'MultiPolygon':
        return { type: name, coordinates: this.repeat(() => (this.geometry(depth + 1) as { coordinates: Coord[][] }).coordinates) };
      case 'GeometryCollection':
        return { type: name, geometries: this.repeat(() => this.geometry(depth + 1)) };
      default:
        throw new Error(`unsupported geometry type ${type}`);
    }
  }

  private u8(): number {
    return this.view.getUint8(this.pos++);
  }
  private u32(): number {
    const v = this.view.getUint32(this.pos, this.little);
    this.pos += 4;
    return v;
  }
  private f64(): number {
    const v = this.view.getFloat64(this.pos, this.little);
    this.pos += 8;
    return v;
  }
  private coord(dims: number): Coord {
    const c: Coord = [];
    for (let i = 0; i < dims; i++) c.push(this.f64());
    return c;
  }
  private coords(dims: number): Coord[] {
    return this.repeat(() => this.coord(dims));
  }
  private repeat<T>(read: () => T): T[] {
    const n = this.u32();
    if (n > this.view.byteLength) throw new Error('bad count');
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read());
    return out;
  }
}

function toBytes(v: SqliteValue): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (typeof v !== 'string' || v.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v)) return null;
  const out = new Uint8Array(v.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(v.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function parseGeometry(v: SqliteValue): Geometry | null {
  const bytes = toBytes(v);
  if (!bytes) return null;
  try {
    const reader = new WkbReader(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return reader.geometry(0);
  } catch {
    return null;
  }
}

/** `st_asgeojson(geometry)`: GeoJSON text. */
export function stAsGeoJson(v: SqliteValue): SqliteValue {
  const g = parseGeometry(v);
  return g ? JSON.stringify(g) : null;
}

function wktCoord(c: Coord): string {
  return c.map((n) => String(n)).join(' ');
}
function wktList(cs: Coord[]): string {
  return `(${cs.map(wktCoord).join(',')})`;
}
function wktBody(g: Geometry): string {
  switch (g.type) {
    case 'Point':
      return `(${wktCoord(g.coordinates)})`;
    case 'LineString':
      return wktList(g.coordinates);
    case 'MultiPoint':
      return `(${g.coordinates.map((c) => `(${wktCoord(c)})`).join(',')})`;
    case 'Polygon':
    case 'MultiLineString':
      return `(${g.coordinates.map(wktList).join(',')})`;
    case 'MultiPolygon':
      return `(${g.coordinates.map((p) => `(${p.map(wktList).join(',')})`).join(',')})`;
    case 'GeometryCollection':
      return `(${g.geometries.map(toWkt).join(',')})`;
  }
}
function toWkt(g: Geometry): string {
  return g.type.toUpperCase() + wktBody(g);
}

/** `st_astext(geometry)`: WKT text, e.g. `POINT(1 2)`. */
export function stAsText(v: SqliteValue): SqliteValue {
  const g = parseGeometry(v);
  return g ? toWkt(g) : null;
}

/** `st_x(point)`: the X coordinate of a point, NULL for other geometries. */
export function stX(v: SqliteValue): SqliteValue {
  const g = parseGeometry(v);
  return g?.type === 'Point' ? (g.coordinates[0] ?? null) : null;
}

/** `st_y(point)`: the Y coordinate of a point, NULL for other geometries. */
export function stY(v: SqliteValue): SqliteValue {
  const g = parseGeometry(v);
  return g?.type === 'Point' ? (g.coordinates[1] ?? null) : null;
}
