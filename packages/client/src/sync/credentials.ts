/**
 * Caches the connector's credentials for a connection. Refetches when invalidated (HTTP 401,
 * expired token) or when `expiresAt` is within the refresh margin; validates the endpoint.
 */
import { ClientErrorCodes, SynclineError } from '../errors.ts';
import type { BackendConnector, SynclineCredentials } from './connect-options.ts';

export const CREDENTIALS_REFRESH_MARGIN_MS = 30_000;

export class CredentialsCache {
  private cached: SynclineCredentials | undefined;
  private inflight: Promise<SynclineCredentials> | undefined;

  constructor(
    private readonly connector: BackendConnector,
    private readonly now: () => number = Date.now,
  ) {}

  /** Current credentials, fetching them when missing or about to expire. */
  async get(): Promise<SynclineCredentials> {
    const c = this.cached;
    if (c && (c.expiresAt === undefined || c.expiresAt.getTime() - this.now() > CREDENTIALS_REFRESH_MARGIN_MS)) return c;
    return this.refresh();
  }

  /** Fetches new credentials (deduplicating concurrent calls). */
  refresh(): Promise<SynclineCredentials> {
    this.inflight ??= (async () => {
      try {
        const fetched = await this.connector.fetchCredentials();
        if (fetched === null) throw new SynclineError(ClientErrorCodes.NOT_SIGNED_IN, 'Not signed in: fetchCredentials() returned null');
        const credentials = { ...fetched, endpoint: normaliseEndpoint(fetched.endpoint) };
        this.cached = credentials;
        return credentials;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  invalidate(): void {
    this.cached = undefined;
    this.connector.invalidateCredentials?.();
  }
}

export function normaliseEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new SynclineError(ClientErrorCodes.INVALID_ENDPOINT, `Invalid sync endpoint "${endpoint}": not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SynclineError(ClientErrorCodes.INVALID_ENDPOINT, `Invalid sync endpoint "${endpoint}": use http(s)`);
  }
  return endpoint.replace(/\/+$/, '');
}
