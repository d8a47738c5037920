// Bundles the web console (console/) into dist/console: index.html, app.js, app.css.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'console');
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: join(root, 'console', 'main.ts') },
  bundle: true, minify: true, sourcemap: true, format: 'esm', target: 'es2022',
  outdir: out, logLevel: 'warning', legalComments: 'linked',
});
await copyFile(join(root, 'console', 'index.html'), join(out, 'index.html'));
