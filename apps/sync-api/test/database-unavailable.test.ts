import { describe, expect, it } from 'vitest';
import net from 'node:net';
import pg from 'pg';
import { isDatabaseUnavailable, toServiceError } from '@syncline/protocol';

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('database outages are retryable 503s, not 500s', () => {
  it('classifies a refused pg connection as DATABASE_UNAVAILABLE', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: await closedPort(), user: 'x', database: 'x', connectionTimeoutMillis: 2000 });
    const err = await client.connect().then(() => null, (e: unknown) => e);
    expect(isDatabaseUnavailable(err)).toBe(true);
    expect(toServiceError(err)).toMatchObject({ code: 'SYNC_DATABASE_UNAVAILABLE', status: 503 });
  });

  it('classifies server-side shutdown and connection-limit SQLSTATEs, but not ordinary SQL errors', () => {
    expect(isDatabaseUnavailable({ code: '57P01', message: 'terminating connection due to administrator command' })).toBe(true);
    expect(isDatabaseUnavailable({ code: '53300', message: 'too many clients already' })).toBe(true);
    expect(isDatabaseUnavailable({ code: '08006', message: 'connection failure' })).toBe(true);
    expect(isDatabaseUnavailable({ code: '55000', message: 'database "s" is not currently accepting connections' })).toBe(true);
    expect(isDatabaseUnavailable({ code: '55000', message: 'cannot do this in the current state' })).toBe(false);
    expect(isDatabaseUnavailable({ code: '42P01', message: 'relation "x" does not exist' })).toBe(false);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(toServiceError(new Error('boom'))).toMatchObject({ code: 'SYNC_INTERNAL', status: 500 });
  });
});
