// Bundles the agent into one ESM file (dist/vault-pki-agent.mjs) that needs no node_modules at run time.
// Command implementations are dynamic imports: esbuild keeps them in the same file behind lazy
// initialisers, so `--version` does not pay for node-vault, zod or node-forge.
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {}

const outfile = 'dist/vault-pki-agent.mjs';
await build({
  entryPoints: ['src/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  sourcemap: false,
  legalComments: 'linked',
  logLevel: 'warning',
  define: {
    __VPA_VERSION__: JSON.stringify(pkg.version),
    __VPA_COMMIT__: JSON.stringify(commit),
    __VPA_BUILT__: JSON.stringify(new Date().toISOString()),
  },
  // CommonJS dependencies (node-vault, node-forge, yargs' helpers) call require() for Node built-ins.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __vpaCreateRequire } from 'node:module'; const require = __vpaCreateRequire(import.meta.url);",
  },
});
chmodSync(outfile, 0o755);
