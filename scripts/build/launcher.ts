// The launcher: dist/vault-pki-agent.cjs, a small CommonJS file. The program (one CommonJS bundle, wrapped
// in a function expression) is dist/vault-pki-agent-program.cjs beside it, whose first line names its id.
//
// - `--version` is answered here: the program is never read.
// - Any other command reads the program and compiles it with vm.Script, taking V8's compiled code from a
//   code cache when a trustworthy one for exactly this program and this Node.js exists (see
//   docs/PERFORMANCE.md):
//     1. $VPA_CODE_CACHE_DIR/vault-pki-agent-<program id>-<command>-<flags id>.cache, written at the end of a successful run
//        when it was missing or unusable: it holds the code of everything that run used (the units set
//        the variable to systemd's CacheDirectory);
//     2. <this file>.cache, written by `--write-code-cache` (the build, node-boot.sh's install): the code
//        of every module's set-up.
//   A cache is trusted only when owned like its directory's owner expects (the effective user, or this
//   file's owner) and writable by nobody else, and its header names this program and this Node.js; V8
//   itself rejects a cache from another V8 version or flags, and the program then compiles as usual.
// - A program file whose first line names another id (a half-finished upgrade) is refused: a cache made for
//   one program must never be handed to V8 with another's source (V8 compares only the length).
//
// Why two files and CommonJS (docs/ARCHITECTURE.md): an ES module entry costs Node ~3.5 ms more to start,
// and a program carried inside the entry file had to be scanned by the entry's parser and cut out of it.
import {
  closeSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { versionText } from '../../src/cli/version.js';

declare const __VPA_PROGRAM_ID__: string;
declare const __VPA_PROGRAM_FILE__: string;

interface Program {
  main(argv: string[]): Promise<void>;
  preload(): Promise<void>;
}

const argv = process.argv.slice(2);
const selfFile = __filename;
const programFile = join(__dirname, __VPA_PROGRAM_FILE__);
const HEADER = Buffer.from(`vpa-code-cache ${__VPA_PROGRAM_ID__} ${process.version} ${process.arch}\n`);

/** Not writable by group or others, owned by `uid`. */
const trusted = (st: { uid: number; mode: number }, uid: number) => st.uid === uid && (st.mode & 0o022) === 0;

/** The cache's V8 data, if the file is trusted and its header names this program and this Node.js. */
function readCodeCache(file: string, ownerUid: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || !trusted(st, ownerUid)) return undefined;
    const data = readFileSync(fd);
    return data.subarray(0, HEADER.length).equals(HEADER) ? data.subarray(HEADER.length) : undefined;
  } finally {
    closeSync(fd);
  }
}

function writeCodeCache(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.concat([HEADER, data]), { mode: 0o644, flag: 'wx' });
  renameSync(tmp, file);
}

/**
 * V8 rejects a cache made under other flags (`--max-old-space-size` in the run unit's NODE_OPTIONS is one):
 * one cache file per set of flags, so units with different flags do not overwrite each other's.
 */
function flagsId(): string {
  const flags = `${process.execArgv.join(' ')}|${process.env.NODE_OPTIONS ?? ''}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < flags.length; i++) h = Math.imul(h ^ flags.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * A run caches the code it used, which depends on the command: one file per command, so that the timer's
 * `check` (often the first run after an upgrade) does not leave `bootstrap` a cache without its code.
 */
function commandId(): string {
  const command = argv[0] ?? '';
  return /^[a-z][a-z-]{0,30}$/.test(command) ? command : 'other';
}

/** The cache directory from VPA_CODE_CACHE_DIR, when it exists, is ours and nobody else may write it. */
function cacheDirectory(): string | undefined {
  const dir = process.env.VPA_CODE_CACHE_DIR;
  if (!dir || argv[0] === '--write-code-cache') return undefined;
  try {
    const st = statSync(dir);
    return st.isDirectory() && trusted(st, process.geteuid?.() ?? -1) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function load() {
  const source = readFileSync(programFile, 'latin1');
  const header = `//vpa-program ${__VPA_PROGRAM_ID__}\n`;
  if (!source.startsWith(header)) {
    throw new Error(
      `${programFile} is not the program this launcher was built with (${JSON.stringify(source.slice(0, 30))}...): reinstall both files`,
    );
  }
  const dir = cacheDirectory();
  const dirCache =
    dir === undefined
      ? undefined
      : join(dir, `vault-pki-agent-${__VPA_PROGRAM_ID__}-${commandId()}-${flagsId()}.cache`);
  const besideCache = `${selfFile}.cache`;
  let cachedData: Buffer | undefined;
  let from: 'dir' | 'beside' | undefined;
  if (argv[0] !== '--write-code-cache') {
    cachedData = dirCache === undefined ? undefined : readCodeCache(dirCache, process.geteuid?.() ?? -1);
    from = cachedData ? 'dir' : undefined;
    if (!cachedData) {
      cachedData = readCodeCache(besideCache, statSync(selfFile).uid);
      from = cachedData ? 'beside' : undefined;
    }
  }
  // The file is `(function (exports, require, module, __filename, __dirname) {...})`: its value is the wrapper.
  const script = new Script(source, { filename: programFile, cachedData });
  const module = { exports: {} as unknown, vpaLauncher: true };
  script.runInThisContext()(module.exports, require, module, programFile, dirname(programFile));
  const rejected = cachedData !== undefined && script.cachedDataRejected === true;
  return {
    program: module.exports as Program,
    script,
    besideCache,
    // Refresh the directory's cache after this run unless it was the one V8 just accepted.
    dirCacheToWrite: dirCache !== undefined && (from !== 'dir' || rejected) ? dirCache : undefined,
    cache: from === undefined ? 'none' : `${rejected ? 'rejected' : 'used'} (${from})`,
  };
}

async function launch(): Promise<void> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${versionText()}\n`);
  } else if (argv.length === 1 && argv[0] === '--write-code-cache') {
    const { program, script, besideCache } = load();
    await program.preload();
    const data = script.createCachedData();
    rmSync(`${besideCache}.${process.pid}.tmp`, { force: true });
    writeCodeCache(besideCache, data);
    process.stdout.write(
      `${besideCache}: ${data.length} bytes of V8 code cache for node ${process.versions.node}\n`,
    );
  } else {
    const { program, script, dirCacheToWrite, cache } = load();
    if (process.env.VPA_DEBUG) process.stderr.write(`code cache: ${cache}\n`);
    if (dirCacheToWrite) {
      process.once('exit', (code) => {
        if (code !== 0) return;
        try {
          writeCodeCache(dirCacheToWrite, script.createCachedData());
        } catch {
          // A cache is an optimisation: a full disk or a race with another run must not fail the command.
        }
      });
    }
    await program.main(argv);
  }
}

launch().catch((error: unknown) => {
  process.stderr.write(`vault-pki-agent: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
