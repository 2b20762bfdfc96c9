// Bundles the agent into one ESM file (dist/vault-pki-agent.mjs) that needs no node_modules at run time.
// Command implementations are dynamic imports: esbuild keeps them in the same file behind lazy
// initialisers, so `--version` does not pay for node-vault, zod or node-forge.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {}

const outfile = 'dist/vault-pki-agent.mjs';

// zod's namespace re-exports every locale; the agent's messages are English only (-264 KB).
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes('/node_modules/zod/')
        ? { path: new URL('./build/zod-locales-en.mjs', import.meta.url).pathname }
        : undefined,
    );
  },
};
// --sea-only: just the single-executable below, from the sources, leaving dist/ as it is.
const seaOnly = process.argv.includes('--sea-only');
const result = seaOnly
  ? undefined
  : await build({
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
      plugins: [zodEnglishOnly],
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
if (result) chmodSync(outfile, 0o755);
if (result && process.env.VPA_BUILD_REPORT) {
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

// `node scripts/build.mjs --sea` (npm run build:sea): also a Node single-executable (SEA) binary,
// .cache/sea/vault-pki-agent (VPA_SEA_DIR overrides), i.e. node itself with the agent injected (no
// node runtime needed on the host). Node 20's SEA runs one CommonJS script, so the same sources are bundled once more as
// CJS behind an entry without top-level await. Kept out of dist/ so that `npm pack` stays small.
if (seaOnly || process.argv.includes('--sea')) {
  const dir = process.env.VPA_SEA_DIR ?? '.cache/sea';
  mkdirSync(dir, { recursive: true });
  const entry = `const argv = process.argv.slice(2);
(async () => {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    const { versionText } = await import('./src/cli/version.ts');
    process.stdout.write(versionText() + '\\n');
  } else {
    const { runCli } = await import('./src/cli/run-cli.ts');
    process.exitCode = await runCli(argv);
  }
})();`;
  await build({
    stdin: { contents: entry, resolveDir: process.cwd(), loader: 'ts', sourcefile: 'sea-main.ts' },
    outfile: `${dir}/vault-pki-agent.cjs`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    alias: { axios: './scripts/build/axios-unused.mjs' },
    plugins: [
      zodEnglishOnly,
      {
        // debug's optional require('supports-color') is not installed; in a SEA even a failed require
        // of a non-built-in prints a warning, so it resolves to "no colour support" here.
        name: 'no-supports-color',
        setup(b) {
          b.onResolve({ filter: /^supports-color$/ }, () => ({
            path: 'supports-color',
            namespace: 'vpa-stub',
          }));
          b.onLoad({ filter: /.*/, namespace: 'vpa-stub' }, () => ({ contents: 'module.exports = false;' }));
        },
      },
    ],
    define: {
      __VPA_VERSION__: JSON.stringify(pkg.version),
      __VPA_COMMIT__: JSON.stringify(commit),
      __VPA_BUILT__: JSON.stringify(new Date().toISOString()),
    },
  });
  writeFileSync(
    `${dir}/sea-config.json`,
    JSON.stringify({
      main: `${dir}/vault-pki-agent.cjs`,
      output: `${dir}/sea-prep.blob`,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
    }),
  );
  execFileSync(process.execPath, ['--experimental-sea-config', `${dir}/sea-config.json`], {
    stdio: 'inherit',
  });
  const binary = `${dir}/vault-pki-agent`;
  copyFileSync(process.execPath, binary);
  chmodSync(binary, 0o755);
  execFileSync(
    process.execPath,
    [
      'node_modules/postject/dist/cli.js',
      binary,
      'NODE_SEA_BLOB',
      `${dir}/sea-prep.blob`,
      '--sentinel-fuse',
      'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
    ],
    // postject (LIEF) warns about ELF note sections it cannot name; harmless, so only failures are shown.
    { stdio: 'pipe' },
  );
  console.log(`${binary}: ${(statSync(binary).size / 1e6).toFixed(1)} MB`);
}
