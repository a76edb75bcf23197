/// <reference types="vitest/config" />
/**
 * Builds the admin app into generated/admin-app/ (served by the server at /admin/, src/http/admin-app.ts) and runs
 * its component tests (Vitest, jsdom).
 */
import path from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: __dirname,
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: path.resolve(__dirname, '../../generated/admin-app'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    // No inline script: the page's CSP allows scripts from the origin only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  test: {
    environment: 'jsdom',
    globals: true,
    include: ['**/*.test.tsx', '**/*.test.ts'],
    setupFiles: [path.resolve(__dirname, 'test-setup.ts')],
    testTimeout: 60_000,
    pool: 'threads',
    poolOptions: { threads: { maxThreads: 2, minThreads: 1 } },
  },
});
