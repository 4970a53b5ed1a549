import { describe, expect, it } from 'vitest';
import { withApplicationName, withConnectionPurpose } from '../../src/storage/application-name.ts';

const app = (url: string) => new URL(url).searchParams.get('application_name');

describe('application_name on connection URLs', () => {
  it('names every connection made from the URL after the process', () => {
    const url = withApplicationName('postgres://u:p%40ss@db.example:5432/storage?sslmode=require', 'api-1');
    expect(app(url)).toBe('api-1');
    expect(new URL(url).searchParams.get('sslmode')).toBe('require');
    expect(new URL(url).password).toBe('p%40ss');
  });

  it('keeps an application_name the operator set in the URL', () => {
    expect(app(withApplicationName('postgres://h/db?application_name=mine', 'api-1'))).toBe('mine');
  });

  it('appends the purpose of a dedicated connection, keeping the suffix within 63 characters', () => {
    expect(app(withConnectionPurpose(withApplicationName('postgres://h/db', 'replicator-1'), 'lock'))).toBe('replicator-1:lock');
    const long = app(withConnectionPurpose(withApplicationName('postgres://h/db', 'x'.repeat(100)), 'listen'))!;
    expect(long).toHaveLength(63);
    expect(long.endsWith(':listen')).toBe(true);
  });

  it('leaves a URL without a name, or a libpq key=value string, unchanged', () => {
    expect(withConnectionPurpose('postgres://h/db', 'wal')).toBe('postgres://h/db');
    expect(withApplicationName('host=h dbname=db', 'api-1')).toBe('host=h dbname=db');
  });
});
