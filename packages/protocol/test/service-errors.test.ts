import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ServiceError, type ErrorKind } from '../src/service-errors.ts';

describe('PowerSync codes of service errors', () => {
  const kinds = Object.keys(ERROR_CODES) as ErrorKind[];

  it('maps exactly the 401 errors to PowerSync auth codes (the SDKs re-fetch credentials only for those)', () => {
    for (const kind of kinds) {
      const { status, psync } = ERROR_CODES[kind];
      expect(psync, kind).toMatch(/^PSYNC_[SR]\d{4}$/);
      expect(psync.startsWith('PSYNC_S21'), `${kind} (${status}) ${psync}`).toBe(status === 401);
    }
  });

  it('carries the code on the error', () => {
    expect(new ServiceError('AUTH_EXPIRED', 'expired').psyncCode).toBe('PSYNC_S2103');
    expect(new ServiceError('DRAINING', 'draining').psyncCode).toBe('PSYNC_S2003');
  });
});
