// Vite build/dev config (dev server on :3000 proxying /api and /ws to the
// backend, allowed to read ../common/data) and the vitest setup for the unit tests
// in src/**/*.test.ts.
/// <reference types="vitest/config" />
import { fileURLToPath } from 'node:url';
import { defineConfig, searchForWorkspaceRoot } from 'vite';
import react from '@vitejs/plugin-react';

const backend = process.env.CHAT_BACKEND ?? 'http://127.0.0.1:8080';
// The common-password list is shared with the server: ../common/data/common-passwords.txt.
const sharedData = fileURLToPath(new URL('../common/data', import.meta.url));

export default defineConfig({
  plugins: [react()],
  server: {
    port: 3000,
    strictPort: true,
    fs: { allow: [searchForWorkspaceRoot(process.cwd()), sharedData] },
    proxy: {
      '/api': { target: backend, changeOrigin: true },
      '/health': { target: backend, changeOrigin: true },
      '/ws': {
        target: backend.replace(/^http/, 'ws'),
        ws: true,
        changeOrigin: true,
        // The gateway checks Origin against CORS_ORIGINS; in dev present the backend's own origin.
        configure: (proxy) => {
          proxy.on('proxyReqWs', (proxyReq) => proxyReq.setHeader('Origin', backend));
        },
      },
    },
  },
  preview: { port: 3000 },
  build: { outDir: 'dist', sourcemap: false, target: 'es2022' },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
