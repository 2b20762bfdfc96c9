/**
 * The bundled agent is two files, the launcher and its program: copied alone into an empty directory (no
 * node_modules anywhere above it), they still answer `--version` and `bootstrap --help`, which loads the CLI
 * parser and the bootstrap command's module.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_BIN } from '../support/agent.js';

const PROGRAM = 'vault-pki-agent-program.cjs';
const dir = mkdtempSync(join(tmpdir(), 'vpa-bundle-'));
const copy = join(dir, 'vault-pki-agent.cjs');
const programCopy = join(dir, PROGRAM);
copyFileSync(AGENT_BIN, copy);
copyFileSync(join(dirname(AGENT_BIN), PROGRAM), programCopy);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A bare environment and cwd: nothing resolves from the repository's node_modules.
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [copy, ...args], {
    cwd: dir,
    env: { PATH: '/usr/bin:/bin', ...env },
    encoding: 'utf8',
  });

describe('dist/vault-pki-agent.cjs and its program, alone', () => {
  it('--version', () => {
    const r = run(['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^vault-pki-agent \d+\.\d+\.\d+/);
  });

  it('bootstrap --help', () => {
    const r = run(['bootstrap', '--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/--dry-run/);
    expect(r.stdout).toMatch(/--only/);
  });

  it('the program makes no dynamic import() (the launcher runs it in a vm.Script, which has no loader for one)', () => {
    // Builtins loaded on first use (node:tls, node:https, ...) must be require() calls in the bundle.
    const program = readFileSync(programCopy, 'latin1');
    expect(program.match(/.{0,40}\bimport\(.{0,40}/g) ?? []).toEqual([]);
  });

  it('a command that loads every dependency (config error path: yaml, zod) fails cleanly, not on a missing module', () => {
    const r = run(['check', '--config', join(dir, 'missing.yaml')]);
    expect(r.status).toBe(3);
    expect(r.stderr).not.toMatch(/Cannot find (module|package)/);
  });

  it('a program file from another build (half an upgrade) is refused with exit 1, before any cache is used', () => {
    const good = readFileSync(programCopy);
    const other = Buffer.from(good);
    other.write('0123456789abcdef', '//vpa-program '.length, 'latin1');
    writeFileSync(programCopy, other);
    try {
      const r = run(['bootstrap', '--help'], { VPA_DEBUG: '1' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/is not the program this launcher was built with.*reinstall both files/);
      expect(r.stderr).not.toContain('code cache');
    } finally {
      writeFileSync(programCopy, good);
    }
    expect(run(['--version']).status).toBe(0);
  });

  it('a missing program file is exit 1 naming it; --version needs only the launcher', () => {
    const good = readFileSync(programCopy);
    rmSync(programCopy);
    try {
      expect(run(['--version']).status).toBe(0);
      const r = run(['bootstrap', '--help']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(programCopy);
    } finally {
      writeFileSync(programCopy, good);
    }
  });
});

describe('the V8 code cache beside the launcher', () => {
  const cache = `${copy}.cache`;
  const helpWith = () => run(['bootstrap', '--help'], { VPA_DEBUG: '1' });
  const expectedHelp = () => run(['bootstrap', '--help']).stdout;

  it('is absent at first: the program compiles without it', () => {
    rmSync(cache, { force: true });
    const r = helpWith();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('code cache: none');
  });

  it('--write-code-cache writes it (0644), and the next command uses it with the same output', () => {
    const w = run(['--write-code-cache']);
    expect(w.status, w.stderr).toBe(0);
    expect(w.stdout).toContain(cache);
    expect(statSync(cache).mode & 0o777).toBe(0o644);
    expect(statSync(cache).size).toBeGreaterThan(100_000);
    const r = helpWith();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('code cache: used');
    expect(r.stdout).toBe(expectedHelp());
  });

  it('a damaged cache is rejected by V8 and the command still works', () => {
    const good = readFileSync(cache);
    const bad = Buffer.from(good);
    const header = good.indexOf(10) + 1; // "vpa-code-cache <program id> <node> <arch>\n"
    bad.fill(7, header, header + 64);
    writeFileSync(cache, bad, { mode: 0o644 });
    const r = helpWith();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('code cache: rejected');
    expect(r.stdout).toBe(expectedHelp());
    writeFileSync(cache, good, { mode: 0o644 });
  });

  it('a cache whose header names another program or Node.js is not handed to V8', () => {
    const good = readFileSync(cache);
    const other = Buffer.from(good);
    other.write('0000000000000000', 'vpa-code-cache '.length, 'latin1');
    writeFileSync(cache, other, { mode: 0o644 });
    expect(helpWith().stderr).toContain('code cache: none');
    writeFileSync(cache, good, { mode: 0o644 });
  });

  it('a cache others may write is not read at all', () => {
    chmodSync(cache, 0o666);
    const r = helpWith();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('code cache: none');
    chmodSync(cache, 0o644);
    expect(helpWith().stderr).toContain('code cache: used');
  });
});

describe("VPA_CODE_CACHE_DIR (the units point it at systemd's CacheDirectory)", () => {
  const cacheDir = join(dir, 'code-cache');
  const runIn = (cacheDirectory: string, env: Record<string, string> = {}) =>
    run(['bootstrap', '--help'], { VPA_DEBUG: '1', VPA_CODE_CACHE_DIR: cacheDirectory, ...env });
  const cacheFiles = (d: string) => readdirSync(d).filter((f) => f.endsWith('.cache'));

  it('the first successful run writes the cache of everything it ran (0644); the next runs use it', () => {
    mkdirSync(cacheDir, { mode: 0o700 });
    const first = runIn(cacheDir);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).not.toContain('(dir)');
    const files = cacheFiles(cacheDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^vault-pki-agent-[0-9a-f]{16}-bootstrap-[0-9a-f]{8}\.cache$/);
    expect(statSync(join(cacheDir, files[0] as string)).mode & 0o777).toBe(0o644);
    const second = runIn(cacheDir);
    expect(second.stderr).toContain('code cache: used (dir)');
    expect(second.stdout).toBe(first.stdout);
  });

  it('other V8 flags (the run unit sets NODE_OPTIONS) get their own file instead of a rejected one', () => {
    const flagged = runIn(cacheDir, { NODE_OPTIONS: '--max-old-space-size=64' });
    expect(flagged.status, flagged.stderr).toBe(0);
    expect(cacheFiles(cacheDir)).toHaveLength(2);
    expect(runIn(cacheDir, { NODE_OPTIONS: '--max-old-space-size=64' }).stderr).toContain('used (dir)');
    expect(runIn(cacheDir).stderr).toContain('used (dir)');
  });

  it('another command gets its own cache file (a first `check` does not stand in for `bootstrap`)', () => {
    const before = cacheFiles(cacheDir).length;
    const r = run(['check', '--help'], { VPA_DEBUG: '1', VPA_CODE_CACHE_DIR: cacheDir });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('(dir)');
    expect(cacheFiles(cacheDir)).toHaveLength(before + 1);
    expect(cacheFiles(cacheDir).some((f) => /-check-[0-9a-f]{8}\.cache$/.test(f))).toBe(true);
    expect(runIn(cacheDir).stderr).toContain('used (dir)');
  });

  it('a directory others may write is neither read nor written', () => {
    const open = join(dir, 'open-cache');
    mkdirSync(open, { mode: 0o700 });
    chmodSync(open, 0o777);
    for (const f of cacheFiles(cacheDir)) copyFileSync(join(cacheDir, f), join(open, f));
    const r = runIn(open);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('(dir)');
    const before = cacheFiles(open).map((f) => statSync(join(open, f)).mtimeMs);
    runIn(open);
    expect(cacheFiles(open).map((f) => statSync(join(open, f)).mtimeMs)).toEqual(before);
  });

  it('a failing run writes no cache', () => {
    const failing = join(dir, 'failing-cache');
    mkdirSync(failing, { mode: 0o700 });
    const r = run(['check', '--config', join(dir, 'missing.yaml')], { VPA_CODE_CACHE_DIR: failing });
    expect(r.status).toBe(3);
    expect(cacheFiles(failing)).toEqual([]);
  });
});
