/**
 * The standalone harness: the plugin's views on a page of their own, talking to a real audit
 * log server through a same-origin proxy that plays Backstage's proxy plugin: requests to
 * `/api/proxy/audit-log/*` go to AUDITLOG_API_URL with `Authorization: Bearer $AUDITLOG_TOKEN`
 * added on the way (the local server sends no CORS headers, and the token stays out of the page).
 *
 *   AUDITLOG_API_URL=http://127.0.0.1:8080 AUDITLOG_TOKEN=$(auditlog token ...) npm run dev
 */
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig, type ProxyOptions } from 'vite';

const target = process.env.AUDITLOG_API_URL ?? 'http://127.0.0.1:8080';
const token = process.env.AUDITLOG_TOKEN;

const proxy: Record<string, ProxyOptions> = {
  '/api/proxy/audit-log': {
    target,
    changeOrigin: true,
    rewrite: path => path.replace(/^\/api\/proxy\/audit-log/, ''),
    configure: server => {
      server.on('proxyReq', request => {
        // Backstage's proxy strips the browser's credentials and adds its own; so does this one.
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
  server: { host: '127.0.0.1', port: Number(process.env.PORT ?? 5173), proxy },
  preview: { host: '127.0.0.1', port: Number(process.env.PORT ?? 4173), proxy },
  build: {
    outDir: process.env.HARNESS_OUT_DIR ?? '../dist/harness',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
});
