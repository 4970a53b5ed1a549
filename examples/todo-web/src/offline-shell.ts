/**
 * Makes the app start without a network: registers `sw.js`, which precaches every file of the
 * build (listed by `GET /api/shell-files`) and serves them when the network fails. Sets
 * `data-offline-ready` on <html> once the shell is cached (the offline test waits for it).
 */
export async function registerOfflineShell(): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  await navigator.serviceWorker.register('/sw.js');
  const registration = await navigator.serviceWorker.ready;
  if (registration.active) document.documentElement.dataset['offlineReady'] = 'true';
}
