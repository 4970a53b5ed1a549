/**
 * HTTP calls to the sync service: the NDJSON sync stream (`POST /sync/stream`) and write
 * checkpoints (`GET /write-checkpoint2.json`). A 401 invalidates the cached credentials.
 */
import { ClientErrorCodes, SynclineError } from '../errors.ts';
import type { CredentialsCache } from './credentials.ts';
import type { FetchLike } from './fetch.ts';
import { ndjsonLines } from './ndjson.ts';
import type { StreamsRequest } from '../streams/stream-connection.ts';

export interface StreamingSyncRequest {
  buckets: { name: string; after: string }[];
  include_checksum: true;
  raw_data: true;
  client_id: string;
  parameters: Record<string, unknown>;
  app_metadata?: Record<string, string>;
  streams?: StreamsRequest;
}

export const DEFAULT_USER_AGENT = 'syncline-js/0.1.0';

export class SyncRemote {
  constructor(
    private readonly fetch: FetchLike,
    private readonly credentials: CredentialsCache,
    private readonly userAgent: string = DEFAULT_USER_AGENT,
  ) {}

  private async headers(): Promise<{ endpoint: string; headers: Record<string, string> }> {
    const c = await this.credentials.get();
    return { endpoint: c.endpoint, headers: { authorization: `Token ${c.token}`, 'x-user-agent': this.userAgent } };
  }

  private async check(response: Response, what: string): Promise<void> {
    if (response.ok) return;
    const body = await response.text().catch(() => '');
    let detail = body.slice(0, 500);
    try {
      const parsed = JSON.parse(body) as { error?: { code?: string; description?: string } };
      if (parsed.error) detail = `${parsed.error.code ?? ''} ${parsed.error.description ?? ''}`.trim();
    } catch {
      // not JSON: keep the text
    }
    if (response.status === 401) {
      this.credentials.invalidate();
      throw new SynclineError(ClientErrorCodes.UNAUTHORIZED, `${what}: the sync service rejected the token (401) ${detail}`.trim());
    }
    throw new SynclineError(ClientErrorCodes.HTTP_ERROR, `${what}: HTTP ${response.status} ${detail}`.trim());
  }

  /**
   * Opens the sync stream. Resolves once the response headers arrived (status checked) with an
   * iterator over the text lines; aborting `signal` ends both.
   */
  async openStream(request: StreamingSyncRequest, signal: AbortSignal): Promise<AsyncGenerator<{ text: string; size: number }>> {
    const { endpoint, headers } = await this.headers();
    let response: Response;
    try {
      response = await this.fetch(`${endpoint}/sync/stream`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', accept: 'application/x-ndjson' },
        body: JSON.stringify(request),
        signal,
      });
    } catch (e) {
      throw new SynclineError(signal.aborted ? ClientErrorCodes.ABORTED : ClientErrorCodes.NETWORK_ERROR, `Could not open the sync stream: ${String(e)}`, { cause: e });
    }
    await this.check(response, 'sync stream');
    if (!response.body) throw new SynclineError(ClientErrorCodes.NETWORK_ERROR, 'The sync stream has no body');
    return ndjsonLines(response.body, signal);
  }

  /** Creates a write checkpoint for this client; returns its id. */
  async fetchWriteCheckpoint(clientId: string, signal?: AbortSignal): Promise<bigint> {
    const { endpoint, headers } = await this.headers();
    let response: Response;
    try {
      response = await this.fetch(`${endpoint}/write-checkpoint2.json?client_id=${encodeURIComponent(clientId)}`, { method: 'GET', headers, signal });
    } catch (e) {
      throw new SynclineError(ClientErrorCodes.NETWORK_ERROR, `Could not request a write checkpoint: ${String(e)}`, { cause: e });
    }
    await this.check(response, 'write checkpoint');
    const body = (await response.json()) as { data?: { write_checkpoint?: unknown } };
    const id = body.data?.write_checkpoint;
    if ((typeof id === 'string' && /^\d+$/.test(id)) || (typeof id === 'number' && Number.isSafeInteger(id))) return BigInt(id);
    throw new SynclineError(ClientErrorCodes.PROTOCOL_ERROR, `Unexpected write checkpoint response: ${JSON.stringify(body).slice(0, 200)}`);
  }
}
