/**
 * Vite builds the app (TSX is transformed by Vite itself; Tailwind through postcss). The SQLite
 * WASM package must not be pre-bundled: it loads `sqlite3.wasm` relative to its own URL.
 * `npm run dev` proxies /api to the example backend (TODO_PORT, default 5173 → dev server 5174).
 */
import { defineConfig } from 'vite';

const backend = `http://127.0.0.1:${process.env['TODO_PORT'] ?? 5173}`;

export default defineConfig({
  optimizeDeps: { exclude: ['@sqlite.org/sqlite-wasm'] },
  worker: { format: 'es' },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
  server: { port: 5174, host: '127.0.0.1', proxy: { '/api': backend } },
});
