/** Entry: picks the user (`?user=` or the sign-in buttons), opens their database and renders the app. */
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { SynclineDatabase } from '@syncline/client';
import { App } from './App.tsx';
import type { RejectedWrite } from './backend-connector.ts';
import { registerOfflineShell } from './offline-shell.ts';
import { openDatabase, type OpenedDatabase } from './open-database.ts';
import { SynclineProvider } from '@syncline/react';
import './styles.css';

const DEMO_USERS = ['user-1', 'user-2', 'user-3', 'user-4', 'user-5'];

function SignIn() {
  return (
    <div className="mx-auto mt-24 max-w-sm space-y-4 text-center">
      <h1 className="text-2xl font-bold">Syncline todos</h1>
      <p className="text-slate-600">Sign in as a demo user (dev mode):</p>
      <div className="flex flex-wrap justify-center gap-2">
        {DEMO_USERS.map((u) => (
          <a key={u} href={`?user=${u}`} className="rounded bg-slate-800 px-3 py-1 text-white">
            {u}
          </a>
        ))}
      </div>
    </div>
  );
}

function Root({ userId }: { userId: string }) {
  const [db, setDb] = useState<SynclineDatabase | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [errors, setErrors] = useState<RejectedWrite[]>([]);
  useEffect(() => {
    // One open per mount. React may mount, unmount and mount again at once (StrictMode does in
    // development): the first open is aborted, its result closed and its failure ignored, so the
    // two never race for OPFS with the loser's error replacing the winner's app.
    const abort = new AbortController();
    let opened: OpenedDatabase | null = null;
    openDatabase(userId, (r) => setErrors((list) => [...list, r]), abort.signal)
      .then((o) => {
        if (abort.signal.aborted) return void o.close();
        opened = o;
        document.documentElement.dataset['vfs'] = o.vfs;
        document.documentElement.dataset['openAttempts'] = String(o.openAttempts);
        const showRole = () => (document.documentElement.dataset['tabRole'] = o.tabRole());
        showRole();
        o.onPromoted(showRole);
        setDb(o.db);
      })
      .catch((e: unknown) => {
        if (!abort.signal.aborted) setFailure(e instanceof Error ? e.message : String(e));
      });
    // Release the OPFS handles early when the page goes away (reload), so the next page opens fast.
    const release = () => void opened?.close();
    window.addEventListener('pagehide', release);
    return () => {
      abort.abort();
      window.removeEventListener('pagehide', release);
      void opened?.close();
      setDb(null);
    };
  }, [userId]);
  if (failure) return <p className="p-6 text-red-700">Could not open the local database: {failure}</p>;
  if (!db) return <p className="p-6 text-slate-500">Opening the local database…</p>;
  return (
    <SynclineProvider db={db}>
      <App userId={userId} errors={errors} onDismissErrors={() => setErrors([])} />
    </SynclineProvider>
  );
}

const userId = new URLSearchParams(location.search).get('user');
void registerOfflineShell();
createRoot(document.getElementById('root')!).render(<StrictMode>{userId ? <Root userId={userId} /> : <SignIn />}</StrictMode>);
