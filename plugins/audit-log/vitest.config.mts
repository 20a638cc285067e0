import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [react()],
  test: {
    environment: 'jsdom',
    setupFiles: ['./vitest.setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
    // material-ui-popup-state (via @backstage/plugin-catalog-react) imports MUI folders, which
    // Node's ESM loader refuses; let Vite resolve it instead.
    server: { deps: { inline: ['material-ui-popup-state'] } },
    testTimeout: 20_000,
    // jsdom's CSS parser does not know some of the styles MUI v4 (via Backstage's test app)
    // injects; the message is noise, not a test problem.
    onConsoleLog: log => !log.includes('Could not parse CSS stylesheet'),
    // Two cores on CI: one fork per core, and no file isolation cost beyond that.
    pool: 'forks',
    maxWorkers: 2,
  },
});
