/**
 * The standalone harness: the plugin's views on a page of their own. The client calls
 * `/api/audit-log/*`, which this server forwards:
 * - with AUDITLOG_BACKEND_URL, to the audit log backend plugin (a Backstage backend, e.g.
 *   `npm run dev:e2e` in ../audit-log-backend), passing the browser's Authorization header (the
 *   signed-in user's Backstage token);
 * - otherwise straight to the API at AUDITLOG_API_URL with `Authorization: Bearer
 *   $AUDITLOG_TOKEN` added, standing in for the backend plugin with one fixed identity (the
 *   local server sends no CORS headers, and the token stays out of the page).
 *
 *   AUDITLOG_API_URL=http://127.0.0.1:8080 AUDITLOG_TOKEN=$(auditlog token ...) npm run dev
 */
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig, type ProxyOptions } from 'vite';

const backend = process.env.AUDITLOG_BACKEND_URL;
const target = process.env.AUDITLOG_API_URL ?? 'http://127.0.0.1:8080';
const token = process.env.AUDITLOG_TOKEN;

const proxy: Record<string, ProxyOptions> = {
  '/api/audit-log': backend
    ? { target: backend, changeOrigin: true }
    : {
        target,
        changeOrigin: true,
        rewrite: path => path.replace(/^\/api\/audit-log/, ''),
        configure: server => {
          server.on('proxyReq', request => {
            if (token) request.setHeader('Authorization', `Bearer ${token}`);
            request.removeHeader('cookie');
          });
        },
      },
};

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  logLevel: process.env.CI ? 'warn' : 'info',
  server: {
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 5173),
    proxy,
  },
  preview: {
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 4173),
    proxy,
  },
  build: {
    outDir: process.env.HARNESS_OUT_DIR ?? '../dist/harness',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
});
