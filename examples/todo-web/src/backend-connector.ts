/**
 * The app's BackendConnector: credentials from the example backend (dev sign-in), and uploads
 * one CRUD transaction per request to `POST /api/upload`. A 4xx answer means the backend rejected
 * the write for good: the transaction is completed anyway (so the queue is not blocked; the next
 * checkpoint restores the server's state locally) and the error is reported to the UI. Network
 * errors, 401 and 5xx throw, so the client retries with backoff.
 */
import type { BackendConnector, CrudValue, SynclineCredentials, SynclineDatabase } from '@syncline/client';

export interface RejectedWrite {
  code: string;
  message: string;
  at: Date;
}

export interface AppConfig {
  syncUrl: string;
}

const CONFIG_KEY = 'todo-web:config';

/** The backend's config, cached in localStorage so the app starts offline too. */
export async function loadAppConfig(): Promise<AppConfig> {
  try {
    const res = await fetch('/api/config');
    if (!res.ok) throw new Error(`config: HTTP ${res.status}`);
    const body = (await res.json()) as { data: { sync_url: string } };
    const config = { syncUrl: body.data.sync_url };
    localStorage.setItem(CONFIG_KEY, JSON.stringify(config));
    return config;
  } catch (e) {
    const cached = localStorage.getItem(CONFIG_KEY);
    if (cached) return JSON.parse(cached) as AppConfig;
    throw e;
  }
}

function jsonSafe(data: Record<string, CrudValue> | undefined): Record<string, unknown> | undefined {
  if (!data) return undefined;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]));
}

export function createConnector(userId: string, config: AppConfig, onRejected: (r: RejectedWrite) => void): BackendConnector {
  let cached: { token: string; expiresAt: Date } | null = null;
  const token = async (): Promise<{ token: string; expiresAt: Date }> => {
    if (cached && cached.expiresAt.getTime() - Date.now() > 60_000) return cached;
    const res = await fetch('/api/auth/dev-token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: userId }) });
    if (!res.ok) throw new Error(`sign-in failed: HTTP ${res.status}`);
    const body = (await res.json()) as { data: { token: string; expires_at: string } };
    cached = { token: body.data.token, expiresAt: new Date(body.data.expires_at) };
    return cached;
  };
  return {
    async fetchCredentials(): Promise<SynclineCredentials> {
      const t = await token();
      return { endpoint: config.syncUrl, token: t.token, expiresAt: t.expiresAt };
    },
    invalidateCredentials() {
      cached = null;
    },
    async uploadData(db: SynclineDatabase): Promise<void> {
      const tx = await db.getNextCrudTransaction();
      if (!tx) return;
      const first = tx.crud[0];
      if (!first) return tx.complete();
      const body = {
        client_id: await db.getClientId(),
        batch_id: first.clientId,
        ops: tx.crud.map((e) => ({ op: e.op, type: e.table, id: e.id, data: jsonSafe(e.opData) })),
      };
      const res = await fetch('/api/upload', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${(await token()).token}` },
        body: JSON.stringify(body),
      });
      if (res.ok) return tx.complete();
      if (res.status === 401) cached = null;
      if (res.status >= 400 && res.status < 500 && ![401, 408, 429].includes(res.status)) {
        const err = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
        onRejected({ code: err.code ?? `HTTP_${res.status}`, message: err.message ?? `The backend rejected the write (HTTP ${res.status}).`, at: new Date() });
        return tx.complete();
      }
      throw new Error(`upload failed: HTTP ${res.status}; retrying`);
    },
  };
}
