// Service worker of the todo example: the app shell works offline. Network first (so a new build
// is picked up), cache as the fallback; API calls and the sync API are never cached.
const CACHE = 'todo-web-shell-v1';

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const res = await fetch('/api/shell-files');
      const { data } = await res.json();
      const cache = await caches.open(CACHE);
      await cache.addAll(['/', ...data.files]);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  event.respondWith(
    (async () => {
      try {
        const res = await fetch(event.request);
        if (res.ok) {
          const copy = res.clone();
          void caches.open(CACHE).then((c) => c.put(event.request.mode === 'navigate' ? '/' : event.request, copy));
        }
        return res;
      } catch (e) {
        const cached = await caches.match(event.request.mode === 'navigate' ? '/' : event.request, { ignoreSearch: event.request.mode === 'navigate' });
        if (cached) return cached;
        throw e;
      }
    })(),
  );
});
