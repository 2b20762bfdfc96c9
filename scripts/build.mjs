// Builds the agent into two files that need no node_modules at run time: dist/vault-pki-agent.cjs (the
// launcher, what `node` runs) and dist/vault-pki-agent-program.cjs beside it.
//
// The program itself (src/main.ts) is one CommonJS bundle (esbuild, minified). The launcher
// (scripts/build/launcher.ts) answers `--version` at once; any other command compiles the program with
// vm.Script and V8's code cache. The same CommonJS bundle is the main script of the Node single-executable
// binary (`--sea` / `--sea-only`, into .cache/sea/).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {}

const outfile = 'dist/vault-pki-agent.cjs';
const PROGRAM_FILE = 'vault-pki-agent-program.cjs';
const define = {
  __VPA_VERSION__: JSON.stringify(pkg.version),
  __VPA_COMMIT__: JSON.stringify(commit),
  __VPA_BUILT__: JSON.stringify(new Date().toISOString()),
};

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
// supports-color (pulled in by a dependency's optional require) prints a warning inside a bundle; colours
// are never used: stub it.
const noSupportsColor = {
  name: 'no-supports-color',
  setup(b) {
    b.onResolve({ filter: /^supports-color$/ }, () => ({ path: 'supports-color', namespace: 'vpa-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'vpa-stub' }, () => ({ contents: 'module.exports = false;' }));
  },
};

// yargs' help layout (cliui) wraps by counting characters in its ES module entry: words broke in the middle.
const cliuiWordWrap = {
  name: 'cliui-word-wrap',
  setup(b) {
    b.onResolve({ filter: /^cliui$/ }, (args) =>
      args.importer.includes('/node_modules/yargs/')
        ? { path: new URL('./build/cliui-words.mjs', import.meta.url).pathname }
        : undefined,
    );
  },
};

// yargs uses Node's `assert` for two internal invariants (strictEqual, notStrictEqual); loading `assert` costs
// ~2 ms at every start. These two checks, with the same semantics (Object.is) and a thrown error, are all it needs.
const yargsAssert = {
  name: 'yargs-assert',
  setup(b) {
    b.onResolve({ filter: /^assert$/ }, (args) =>
      args.importer.includes('/node_modules/yargs/')
        ? { path: 'assert', namespace: 'vpa-yargs-assert' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'vpa-yargs-assert' }, () => ({
      contents: `const fail = (message, fallback) => { throw new Error(message ?? fallback); };
module.exports = {
  strictEqual: (actual, expected, message) => { if (!Object.is(actual, expected)) fail(message, 'yargs: values differ'); },
  notStrictEqual: (actual, expected, message) => { if (Object.is(actual, expected)) fail(message, 'yargs: values are equal'); },
};`,
    }));
  },
};

// The program: argv -> runCli, in CommonJS (what vm.Script and Node 20's SEA both take).
const program = await build({
  stdin: {
    contents: `import { main, preload } from './src/main.ts';
declare const module: { vpaLauncher?: boolean; exports: unknown };
// Under the launcher (dist/vault-pki-agent.cjs) the program only hands over its entry points; as the main
// script of the single-executable binary it runs at once.
if (module.vpaLauncher) module.exports = { main, preload };
else void main(process.argv.slice(2));`,
    resolveDir: process.cwd(),
    loader: 'ts',
    sourcefile: 'program.ts',
  },
  write: false,
  outfile: 'program.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: !process.env.VPA_BUILD_READABLE,
  // The bundled packages' licence notices, shipped beside the agent as dist/vault-pki-agent.cjs.LEGAL.txt.
  legalComments: 'external',
  metafile: true,
  logLevel: 'warning',
  plugins: [zodEnglishOnly, noSupportsColor, yargsAssert, cliuiWordWrap],
  // `await import('node:tls')` and the like (builtins loaded on first use) become require() calls: the
  // launcher's vm.Script has no dynamic-import loader.
  supported: { 'dynamic-import': false },
  define: {
    ...define,
    // In the program only yargs' ESM shim reads import.meta.url, to find its locales (none are shipped:
    // English is built in). Empty in a CommonJS bundle, which made it throw and catch an error at every start.
    'import.meta.url': JSON.stringify(
      'file:///vault-pki-agent/node_modules/yargs/lib/platform-shims/esm.mjs',
    ),
  },
});
const programText = program.outputFiles.find((f) => f.path.endsWith('.cjs')).text;
const legalText = program.outputFiles.find((f) => f.path.endsWith('.LEGAL.txt'))?.text ?? '';

const seaOnly = process.argv.includes('--sea-only');
if (!seaOnly) {
  const programId = createHash('sha256').update(programText).digest('hex').slice(0, 16);
  const launcher = await build({
    entryPoints: ['scripts/build/launcher.ts'],
    write: false,
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    define: {
      ...define,
      __VPA_PROGRAM_FILE__: JSON.stringify(PROGRAM_FILE),
      // Names the code cache of exactly this program (V8 itself compares only the source length), and is the
      // program file's first line.
      __VPA_PROGRAM_ID__: JSON.stringify(programId),
    },
  });
  const text = launcher.outputFiles[0].text;
  // The launcher reads the program as latin1 (no UTF-8 decoding): esbuild escapes non-ASCII, keep it that way.
  // (esbuild escapes non-ASCII in strings, regexps and identifiers; only the readable build keeps comments,
  // where latin1 decoding changes nothing.)
  const nonAscii = process.env.VPA_BUILD_READABLE ? null : /[^\x00-\x7f]/.exec(programText);
  if (nonAscii)
    throw new Error(
      `the built agent is not pure ASCII: ${JSON.stringify(programText.slice(nonAscii.index - 60, nonAscii.index + 20))}`,
    );
  mkdirSync('dist', { recursive: true });
  for (const old of [
    'dist/vault-pki-agent.mjs',
    'dist/vault-pki-agent.mjs.cache',
    'dist/vault-pki-agent.mjs.LEGAL.txt',
  ])
    rmSync(old, { force: true });
  // The program as one function expression (what the launcher's vm.Script evaluates to), after its id line.
  writeFileSync(
    `dist/${PROGRAM_FILE}`,
    `//vpa-program ${programId}\n(function (exports, require, module, __filename, __dirname) {${programText}\n})`,
  );
  writeFileSync(outfile, `#!/usr/bin/env node\n${text}`);
  chmodSync(outfile, 0o755);
  writeFileSync(`${outfile}.LEGAL.txt`, legalText);
  // The V8 code cache for this Node.js (dist/vault-pki-agent.cjs.cache); node-boot.sh writes it again on
  // the host, whose Node.js may differ (V8 rejects a cache from another version; the program then compiles).
  execFileSync(process.execPath, [outfile, '--write-code-cache'], { stdio: 'pipe' });
  if (process.env.VPA_BUILD_REPORT) {
    const inputs = Object.entries(program.metafile.outputs).find(([k]) => k.endsWith('.cjs'))[1].inputs;
    const bySource = {};
    for (const [path, info] of Object.entries(inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const key = m ? m[1] : 'src';
      bySource[key] = (bySource[key] ?? 0) + info.bytesInOutput;
    }
    for (const [k, v] of Object.entries(bySource).sort((a, b) => b[1] - a[1]))
      console.log(`${k.padEnd(24)} ${v}`);
  }
}

if (seaOnly || process.argv.includes('--sea')) {
  const dir = process.env.VPA_SEA_DIR ?? '.cache/sea';
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/vault-pki-agent.cjs`, programText);
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
