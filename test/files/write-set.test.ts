import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type WriteError } from '../../src/errors.js';
import { isGenerationName } from '../../src/files/layout.js';
import { readCertificateSet } from '../../src/files/read-set.js';
import { rollbackCertificateSet, tidyCertificateDir } from '../../src/files/recover.js';
import { writeCertificateSet } from '../../src/files/write-set.js';
import { asFiles, keyMatchesCert, makePair, type PemSet, specFor } from '../support/cert-pairs.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');
const LOOP = join(REPO_ROOT, 'test/fixtures/scripts/files-writer-loop.ts');
const NAMES = ['cert.pem', 'key.pem', 'ca.pem', 'fullchain.pem'];

let base: string;
let A: PemSet;
let B: PemSet;
let C: PemSet;
let counter = 0;

function freshDir(): string {
  return join(base, `set-${++counter}`);
}

function generations(dir: string): string[] {
  return readdirSync(dir).filter(isGenerationName).sort();
}

/** Identity of every file a reader or the writer could touch: inode + mtime, links and targets. */
function fingerprint(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const l = lstatSync(path);
    out.push(
      `${name} ino=${l.ino} mtime=${l.mtimeMs} ${l.isSymbolicLink() ? `-> ${readlinkSync(path)}` : ''}`,
    );
    if (l.isDirectory()) {
      for (const inner of readdirSync(path).sort()) {
        const s = lstatSync(join(path, inner));
        out.push(`${name}/${inner} ino=${s.ino} mtime=${s.mtimeMs} ctime=${s.ctimeMs} mode=${s.mode}`);
      }
    }
  }
  return out;
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'vpa-files-'));
  A = makePair('A');
  B = makePair('B');
  C = makePair('C');
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

describe('writeCertificateSet', () => {
  it('writes the generation layout and reads the set back', async () => {
    const dir = freshDir();
    const spec = specFor(dir);
    const result = await writeCertificateSet(spec, asFiles(A));
    expect(result.changed).toBe(true);
    expect(isGenerationName(result.generation)).toBe(true);

    expect(readlinkSync(join(dir, '..data'))).toBe(result.generation);
    for (const name of NAMES) {
      expect(lstatSync(join(dir, name)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(dir, name))).toBe(`..data/${name}`);
    }
    expect(statSync(dir).mode & 0o7777).toBe(0o750);
    expect(statSync(join(dir, result.generation)).mode & 0o7777).toBe(0o750);
    expect(statSync(join(dir, 'key.pem')).mode & 0o7777).toBe(0o600);
    expect(statSync(join(dir, 'cert.pem')).mode & 0o7777).toBe(0o644);
    expect(readFileSync(join(dir, 'cert.pem'), 'utf8')).toBe(A.cert);
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe(A.key);

    const read = await readCertificateSet(spec);
    expect(read).toMatchObject({ complete: true, layout: 'generations', generation: result.generation });
    expect(read.files).toEqual({ cert: A.cert, key: A.key, ca: A.ca, fullchain: A.fullchain });
  });

  it('touches nothing when the same set is written again', async () => {
    const dir = freshDir();
    const spec = specFor(dir);
    const first = await writeCertificateSet(spec, asFiles(A));
    const before = fingerprint(dir);
    const dirMtime = statSync(dir).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    const second = await writeCertificateSet(spec, {
      ...asFiles(A),
      key: Buffer.from(A.key), // bytes or text: the comparison is byte for byte
    });
    expect(second).toEqual({ changed: false, generation: first.generation, repaired: [], warnings: [] });
    expect(fingerprint(dir)).toEqual(before);
    // Not even a lock file came and went: watchers on the directory see no event.
    expect(statSync(dir).mtimeMs).toBe(dirMtime);
  });

  it('switches the whole set, keeps exactly one previous generation and removes older ones', async () => {
    const dir = freshDir();
    const spec = specFor(dir);
    const a = await writeCertificateSet(spec, asFiles(A));
    const b = await writeCertificateSet(spec, asFiles(B));
    expect(b.changed).toBe(true);
    expect(generations(dir)).toEqual([a.generation, b.generation].sort());
    expect(readlinkSync(join(dir, '..previous'))).toBe(a.generation);
    const c = await writeCertificateSet(spec, asFiles(C));
    expect(generations(dir)).toEqual([b.generation, c.generation].sort());
    expect(readlinkSync(join(dir, '..previous'))).toBe(b.generation);
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe(C.key);
    expect(readdirSync(dir).filter((n) => n.startsWith('..') && !isGenerationName(n))).toEqual([
      '..data',
      '..previous',
    ]);
  });

  it('a watcher of cert.pem (inotify on the inode it resolved to, as kube-apiserver and the kubelet watch) gets an event at each switch and rollback', async () => {
    const dir = freshDir();
    const spec = specFor(dir);
    await writeCertificateSet(spec, asFiles(A));
    const watchOnce = async (change: () => Promise<unknown>) => {
      // fs.watch on a path follows the symlinks: it watches the file of the generation current now.
      const watcher = watch(join(dir, 'cert.pem'));
      try {
        const event = new Promise<string>((resolve) => watcher.once('change', (type) => resolve(type)));
        await change();
        return await Promise.race([event, new Promise((r) => setTimeout(() => r('none'), 2_000))]);
      } finally {
        watcher.close();
      }
    };
    // The first switch keeps the old generation as ..previous: only the signal makes an event on it.
    expect(await watchOnce(() => writeCertificateSet(spec, asFiles(B)))).not.toBe('none');
    expect(await watchOnce(() => writeCertificateSet(spec, asFiles(C)))).not.toBe('none');
    expect(await watchOnce(() => rollbackCertificateSet(spec))).not.toBe('none');
    // No switch, no event.
    expect(await watchOnce(() => writeCertificateSet(spec, asFiles(B)))).toBe('none');
  });

  it('rolls back to the previous set, atomically, and says when it cannot', async () => {
    const dir = freshDir();
    const spec = specFor(dir);
    expect((await rollbackCertificateSet(spec)).rolledBack).toBe(false);
    const a = await writeCertificateSet(spec, asFiles(A));
    expect((await rollbackCertificateSet(spec)).rolledBack).toBe(false);
    const b = await writeCertificateSet(spec, asFiles(B));
    const back = await rollbackCertificateSet(spec);
    expect(back).toEqual({ rolledBack: true, generation: a.generation, previous: b.generation });
    const read = await readCertificateSet(spec);
    expect(read.files).toEqual(asFiles(A));
    // Writing A again is now a no-op; writing C makes A the previous one.
    expect((await writeCertificateSet(spec, asFiles(A))).changed).toBe(false);
    await writeCertificateSet(spec, asFiles(C));
    expect(readlinkSync(join(dir, '..previous'))).toBe(a.generation);
    expect(existsSync(join(dir, b.generation))).toBe(false);
  });

  it('repairs owner/mode drift in place without a new generation', async () => {
    const dir = freshDir();
    const spec = specFor(dir);
    const first = await writeCertificateSet(spec, asFiles(A));
    const keyPath = join(dir, first.generation, 'key.pem');
    const inode = statSync(keyPath).ino;
    chmodSync(keyPath, 0o644);
    chmodSync(join(dir, first.generation, 'cert.pem'), 0o600);
    const again = await writeCertificateSet(spec, asFiles(A));
    expect(again.changed).toBe(false);
    expect(again.generation).toBe(first.generation);
    expect(again.repaired.join('\n')).toMatch(/key\.pem: mode 644 -> 600/);
    expect(statSync(keyPath).mode & 0o7777).toBe(0o600);
    expect(statSync(keyPath).ino).toBe(inode);
    expect(statSync(join(dir, 'cert.pem')).mode & 0o7777).toBe(0o644);
  });

  it('restores a deleted file link and reports the set as changed', async () => {
    const dir = freshDir();
    const spec = specFor(dir);
    await writeCertificateSet(spec, asFiles(A));
    rmSync(join(dir, 'fullchain.pem'));
    expect((await readCertificateSet(spec)).problems).toEqual([
      { role: 'fullchain', path: join(dir, 'fullchain.pem'), reason: 'missing', errno: 'ENOENT' },
    ]);
    const again = await writeCertificateSet(spec, asFiles(A));
    expect(again.changed).toBe(true);
    expect(readFileSync(join(dir, 'fullchain.pem'), 'utf8')).toBe(A.fullchain);
  });

  it('migrates plain files of an older tool: same bytes throughout, old set kept as previous', async () => {
    const dir = freshDir();
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, 'cert.pem'), A.cert, { mode: 0o644 });
    writeFileSync(join(dir, 'key.pem'), A.key, { mode: 0o600 });
    writeFileSync(join(dir, 'ca.pem'), A.ca, { mode: 0o644 });
    writeFileSync(join(dir, 'unrelated.conf'), 'keep me\n');
    const spec = specFor(dir);
    expect((await readCertificateSet(spec)).layout).toBe('plain');

    const result = await writeCertificateSet(spec, asFiles(B));
    expect(result.changed).toBe(true);
    expect(result.repaired.join('\n')).toMatch(/migrated plain files/);
    for (const name of NAMES) expect(lstatSync(join(dir, name)).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'cert.pem'), 'utf8')).toBe(B.cert);
    expect(readFileSync(join(dir, 'unrelated.conf'), 'utf8')).toBe('keep me\n');

    expect((await rollbackCertificateSet(spec)).rolledBack).toBe(true);
    const old = await readCertificateSet(spec);
    expect(old.files).toEqual({ cert: A.cert, key: A.key, ca: A.ca });
    // The old tool had no fullchain: the previous set is exactly what it had.
    expect(old.problems.map((p) => `${p.role}:${p.reason}`)).toEqual(['fullchain:missing']);
  });

  it('migrating plain files that already hold the wanted set changes nothing readers see', async () => {
    const dir = freshDir();
    mkdirSync(dir, { mode: 0o750 });
    for (const [name, text] of Object.entries({
      'cert.pem': A.cert,
      'key.pem': A.key,
      'ca.pem': A.ca,
      'fullchain.pem': A.fullchain,
    }))
      writeFileSync(join(dir, name), text, { mode: 0o600 });
    const result = await writeCertificateSet(specFor(dir), asFiles(A));
    expect(result.changed).toBe(false);
    expect(readlinkSync(join(dir, 'key.pem'))).toBe('..data/key.pem');
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe(A.key);
  });

  it('serialises concurrent writers in one process', async () => {
    const dir = freshDir();
    const spec = specFor(dir);
    const sets = [A, B, C, A, B];
    const results = await Promise.all(sets.map((s) => writeCertificateSet(spec, asFiles(s))));
    expect(results.every((r) => isGenerationName(r.generation))).toBe(true);
    const read = await readCertificateSet(spec);
    expect(read.complete).toBe(true);
    expect(keyMatchesCert(read.files.key as string, read.files.cert as string)).toBe(true);
    expect(generations(dir).length).toBeLessThanOrEqual(2);
    expect(existsSync(join(dir, '..lock'))).toBe(false);
  });

  it('a failure after the new generation is complete, before the switch, removes it and keeps the current set', async () => {
    const dir = freshDir();
    const spec = specFor(dir);
    const a = await writeCertificateSet(spec, asFiles(A));
    // A directory where a file link must go: found only once the new generation is written (the links come
    // after it, before ..data moves).
    rmSync(join(dir, 'fullchain.pem'));
    mkdirSync(join(dir, 'fullchain.pem'));
    const before = new Set(readdirSync(dir));
    const refused = await writeCertificateSet(spec, asFiles(B)).catch((e: unknown) => e);
    expect((refused as WriteError).code).toBe('unsafe-target');
    expect((refused as Error).message).toContain('fullchain.pem is a directory');
    expect(new Set(readdirSync(dir))).toEqual(before);
    expect(generations(dir)).toEqual([a.generation]);
    expect(readlinkSync(join(dir, '..data'))).toBe(a.generation);
    const read = await readCertificateSet(spec);
    expect(read.files).toEqual({ cert: A.cert, key: A.key, ca: asFiles(A).ca });
  });

  it('fails on an unknown owner before creating anything', async () => {
    const dir = freshDir();
    const spec = specFor(dir, { owner: 'no-such-user-vpa-x9' });
    const error = await writeCertificateSet(spec, asFiles(A)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/files\.owner "no-such-user-vpa-x9" is not a known user/);
    expect(existsSync(dir)).toBe(false);
  });

  it('tidying removes what a killed writer leaves behind and keeps the current and previous sets', async () => {
    const dir = freshDir();
    const spec = specFor(dir);
    const a = await writeCertificateSet(spec, asFiles(A));
    const b = await writeCertificateSet(spec, asFiles(B));
    // A half-written generation, a dangling ..data_tmp, a link temp and a stale lock of a dead pid.
    const half = '..2000_01_01_00_00_00_000.deadbeef';
    mkdirSync(join(dir, half));
    writeFileSync(join(dir, half, 'cert.pem'), C.cert.slice(0, 100));
    symlinkSync(half, join(dir, '..data_tmp'));
    symlinkSync('..data/cert.pem', join(dir, '..tmp.cert.pem'));
    writeFileSync(join(dir, '..lock'), '999999999\n');
    const done = await tidyCertificateDir(spec);
    // The stale lock is taken over (and released) rather than listed.
    expect(done).toHaveLength(1);
    expect(done[0]).toMatch(new RegExp(`^${dir}: removed leftovers `));
    const removed = (done[0] as string).slice(`${dir}: removed leftovers `.length).split(' ');
    expect(removed.sort()).toEqual([half, '..data_tmp', '..tmp.cert.pem'].sort());
    for (const name of removed) expect(existsSync(join(dir, name))).toBe(false);
    expect(existsSync(join(dir, '..lock'))).toBe(false);
    expect(generations(dir)).toEqual([a.generation, b.generation].sort());
    expect((await readCertificateSet(spec)).files).toEqual(asFiles(B));
  });

  it('never lets key.pem be wider than 0600, watched during 50 writes by another process (umask 0)', async () => {
    const dir = freshDir();
    const spec = specFor(dir);
    await writeCertificateSet(spec, asFiles(A));
    const pairsFile = join(base, `pairs-${counter}.json`);
    writeFileSync(pairsFile, JSON.stringify([asFiles(A), asFiles(B)]));
    const done = join(base, `done-${counter}`);
    const child = spawn(TSX, [LOOP, dir, pairsFile, 'count', '50', done], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

    // Tight polling loop (synchronous on purpose: nothing else runs between two looks).
    const seen = new Set<string>();
    const wide: string[] = [];
    let looks = 0;
    const deadline = Date.now() + 90_000;
    while (!existsSync(done) && Date.now() < deadline) {
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (!isGenerationName(name)) continue;
        try {
          const st = statSync(join(dir, name, 'key.pem'), { throwIfNoEntry: false });
          if (!st) continue;
          looks++;
          seen.add(name);
          if ((st.mode & 0o7777) !== 0o600) wide.push(`${name}/key.pem ${(st.mode & 0o7777).toString(8)}`);
        } catch {
          // generation removed between readdir and stat
        }
      }
    }
    expect(await exited).toBe(0);
    expect(wide).toEqual([]);
    // The watcher really saw the new generations while they were being made.
    expect(seen.size).toBeGreaterThanOrEqual(20);
    expect(looks).toBeGreaterThan(seen.size);
    expect(generations(dir).length).toBe(2);
  }, 120_000);
});
