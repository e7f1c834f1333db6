// The console's build (scripts/setup.d/65-web.sh runs it): Preact through esbuild's automatic JSX runtime, no
// Babel plugin; hashed files under assets/ (served immutable by src/console/static.ts).
import { defineConfig } from 'vite';

export default defineConfig({
  root: __dirname,
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2020', sourcemap: false, assetsDir: 'assets', chunkSizeWarningLimit: 300 },
  server: { fs: { allow: ['..'] } },
});
