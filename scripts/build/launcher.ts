// The launcher: the first lines of dist/vault-pki-agent.mjs. The program (one CommonJS bundle) follows
// it in the same file, as `//` comment lines after PROGRAM_MARKER, so the ES module parser only skips it.
//
// - `--version` is answered here: the program is never read.
// - Any other command reads the program from this file and compiles it with vm.Script. When the V8
//   code cache written by `--write-code-cache` lies beside this file (<file>.cache, owned like it and
//   writable by nobody else), V8 takes the compiled code from it instead of compiling ~760 KB again;
//   a cache from another Node.js version is rejected by V8 and the program is compiled as usual.
// - `--write-code-cache` loads every module of the program (running no command) and writes that cache.
import { closeSync, fstatSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { versionText } from '../../src/cli/version.js';

declare const __VPA_PROGRAM_MARKER__: string;

interface Program {
  main(argv: string[]): Promise<void>;
  preload(): Promise<void>;
}

const argv = process.argv.slice(2);

/** The cache beside this file, if it is as trustworthy as this file: same owner, no group/other write. */
function readCodeCache(cacheFile: string, selfFile: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(cacheFile, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== statSync(selfFile).uid || (st.mode & 0o022) !== 0) return undefined;
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function load(): {
  program: Program;
  script: Script;
  cacheFile: string;
  cache: 'used' | 'rejected' | 'none';
} {
  const filename = fileURLToPath(import.meta.url);
  const text = readFileSync(filename, 'utf8');
  // The last occurrence: the launcher's own copy of the marker (this string) comes first.
  const at = text.lastIndexOf(__VPA_PROGRAM_MARKER__);
  if (at < 0) throw new Error(`${filename}: the program is missing (damaged file?)`);
  const source = text
    .slice(at + __VPA_PROGRAM_MARKER__.length)
    .split('\n//')
    .join('\n');
  const cacheFile = `${filename}.cache`;
  const cachedData = argv[0] === '--write-code-cache' ? undefined : readCodeCache(cacheFile, filename);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename,
    cachedData,
  });
  const module = { exports: {} as unknown, vpaLauncher: true };
  script.runInThisContext()(module.exports, createRequire(filename), module, filename, dirname(filename));
  const cache = cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'used';
  return { program: module.exports as Program, script, cacheFile, cache };
}

if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  process.stdout.write(`${versionText()}\n`);
} else if (argv.length === 1 && argv[0] === '--write-code-cache') {
  const { program, script, cacheFile } = load();
  await program.preload();
  const data = script.createCachedData();
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o644 });
  renameSync(tmp, cacheFile);
  process.stdout.write(
    `${cacheFile}: ${data.length} bytes of V8 code cache for node ${process.versions.node}\n`,
  );
} else {
  const { program, cache } = load();
  if (process.env.VPA_DEBUG) process.stderr.write(`code cache: ${cache}\n`);
  await program.main(argv);
}
