// The installable shop's service worker. It keeps the app shell (styles, scripts, icons) and an
// offline page, so the shop opens from the home screen even on a bad network. It never stores
// paid media or personal pages: only the files listed here and under /static/.
const CACHE = 'kedian-shell-v2';
const SHELL = ['/offline', '/static/css/site.css', '/static/img/icon-192.png', '/static/img/favicon.svg'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    // Pages always come from the network (they are personal or change); offline, a notice.
    event.respondWith(fetch(request).catch(() => caches.match('/offline')));
    return;
  }
  if (url.pathname.startsWith('/static/')) {
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      // Offline with a version not kept yet (the offline page links a versioned stylesheet):
      // any kept version of the file is better than none.
      }).catch(() => caches.match(request, { ignoreSearch: true })))
    );
  }
  // Everything else (media, keys, progress, files) goes to the network untouched.
});
