/**
 * Postgres `application_name` on every connection a Syncline process opens, so an operator sees in
 * `pg_stat_activity` (and in server logs with `%a`) which process holds which connection:
 * `api-1` for the pools, `api-1:listen` for the checkpoint listener, `replicator-1:lock` for a
 * version's advisory-lock session, `replicator-1:wal` for the replication stream,
 * `replicator-1:snapshot` for a table snapshot. The name travels in the connection URL (pg reads
 * `?application_name=` into every client and pool made from it), so code deriving connections from
 * a URL or a pool inherits it. An `application_name` the operator put in the URL is kept.
 *
 * @example
 * const storageUrl = withApplicationName(config.STORAGE_DATABASE_URL, config.PROCESS_NAME); // …?application_name=api-1
 * new pg.Client({ connectionString: withConnectionPurpose(storageUrl, 'listen') });       // api-1:listen
 */

/** Postgres truncates application_name to NAMEDATALEN - 1 bytes. */
const MAX_LENGTH = 63;

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** `url` with `application_name=name`, unless the URL already sets one (the operator's choice wins). */
export function withApplicationName(url: string, name: string): string {
  const u = parse(url);
  if (!u || u.searchParams.has('application_name')) return url;
  u.searchParams.set('application_name', name.slice(0, MAX_LENGTH));
  return u.toString();
}

/** `url` with `:purpose` appended to its application_name (none set: unchanged); the suffix survives truncation. */
export function withConnectionPurpose(url: string, purpose: string): string {
  const u = parse(url);
  const base = u?.searchParams.get('application_name');
  if (!u || !base) return url;
  u.searchParams.set('application_name', `${base.slice(0, Math.max(0, MAX_LENGTH - purpose.length - 1))}:${purpose}`);
  return u.toString();
}
