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
const result = await build({
  entryPoints: ['src/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  sourcemap: false,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
  alias: { axios: './scripts/build/axios-unused.mjs' },
  plugins: [
    {
      name: 'zod-english-only',
      setup(b) {
        b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
          args.importer.includes('/node_modules/zod/')
            ? { path: new URL('./build/zod-locales-en.mjs', import.meta.url).pathname }
            : undefined,
        );
      },
    },
  ],
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
if (process.env.VPA_BUILD_REPORT) {
  const inputs = result.metafile.outputs[outfile].inputs;
  const bySource = {};
  for (const [path, info] of Object.entries(inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const key = m ? m[1] : 'src';
    bySource[key] = (bySource[key] ?? 0) + info.bytesInOutput;
  }
  for (const [k, v] of Object.entries(bySource).sort((a, b) => b[1] - a[1]))
    console.log(`${k.padEnd(24)} ${v}`);
}
