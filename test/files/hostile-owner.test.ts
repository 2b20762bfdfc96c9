/**
 * Issue 13, point 4: the owner of a set directory (in the shipped etcd layout, the etcd user) gains nothing
 * through the root agent. Every attack runs as a real second user (`vpa-attacker`, test/support/second-user.ts)
 * against the real writer, starting from the layout earlier versions left (set directory and generations
 * owned by the set's owner), and checks that nothing outside the set was created, written, chmod'ed,
 * chown'ed or removed, and that no planted entry blocks the writer.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FilesSpec } from '../../src/config/types.js';
import { AgentError } from '../../src/errors.js';
import { readCertificateSet } from '../../src/files/read-set.js';
import { rollbackCertificateSet, tidyCertificateDir } from '../../src/files/recover.js';
import { writeCertificateSet } from '../../src/files/write-set.js';
import { asFiles, makePair, type PemSet, specFor } from '../support/cert-pairs.js';
import { type Attacker, attacker, runAsAttacker, startAttackLoop } from '../support/second-user.js';

const who: Attacker | undefined = attacker();
const needRoot = 'needs root: creates a second user and runs the attacks as that user';
let base: string;
let A: PemSet;
let B: PemSet;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'vpa-hostile-'));
  chmodSync(base, 0o755); // the attacker must reach the set directories
  A = makePair('A');
  B = makePair('B');
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

/** What a file or directory outside the set is: owner, mode, content (files) or names (directories). */
function fingerprint(path: string): string {
  if (!existsSync(path)) return `${path}: absent`;
  const st = lstatSync(path);
  const what = st.isDirectory()
    ? readdirSync(path).sort().join(',')
    : createHash('sha256').update(readFileSync(path)).digest('hex');
  return `${path}: ${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)} ${what}`;
}

/** Root-owned things the attacker would like the agent to damage. */
function victims(name: string): { file: string; dir: string; fresh: string; all: () => string[] } {
  const dir = join(base, `${name}-victim`);
  mkdirSync(dir, { mode: 0o700 });
  const file = join(dir, 'precious');
  writeFileSync(file, 'precious\n', { mode: 0o600 });
  for (const n of ['f1', 'f2', 'f3']) writeFileSync(join(dir, n), `${n}\n`, { mode: 0o600 });
  chmodSync(dir, 0o755);
  const fresh = join(dir, 'should-not-exist');
  return {
    file,
    dir,
    fresh,
    all: () => [dir, file, fresh, ...['f1', 'f2', 'f3'].map((n) => join(dir, n))].map(fingerprint),
  };
}

/** The layout earlier versions left: the set directory and its generations owned by the set's owner. */
async function oldLayout(spec: FilesSpec, owner: Attacker, set: PemSet): Promise<void> {
  const written = await writeCertificateSet(spec, asFiles(set));
  for (const path of [spec.dir, join(spec.dir, written.generation)]) {
    chownSync(path, owner.uid, owner.gid);
    chmodSync(path, 0o750);
  }
}

function ownerSpec(dir: string, owner: Attacker): FilesSpec {
  return specFor(dir, { owner: owner.name, group: owner.name });
}

/** Whether the attacker can still create a name in `dir` ("EACCES" when not). */
function canCreateIn(owner: Attacker, dir: string): string {
  return runAsAttacker(
    owner,
    `try { fs.writeFileSync(path.join(args[0], 'planted'), 'x'); process.stdout.write('created'); }
     catch (e) { process.stdout.write(e.code); }`,
    dir,
  );
}

async function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (v) => v,
    (e: unknown) => e,
  );
}

describe('the set owner attacks the root agent (real second user)', () => {
  it('(a) symlinks planted at the names the agent creates next (..lock.<pid>): nothing outside written or created', async (ctx) => {
    if (!who) return ctx.skip(needRoot);
    const dir = join(base, 'a-set');
    const spec = ownerSpec(dir, who);
    await oldLayout(spec, who, A);
    const v = victims('a');
    const before = v.all();
    // The writer runs in this process: its lock file is ..lock.<our pid>.
    const plant = (target: string) =>
      runAsAttacker(
        who,
        `for (const name of ['..lock.' + args[2], '..data_tmp', '..previous_tmp', '..tmp.cert.pem']) {
           try { fs.symlinkSync(args[1], path.join(args[0], name)); } catch (e) { process.stdout.write(name + ':' + e.code + ' '); }
         }`,
        dir,
        target,
        String(process.pid),
      );
    plant(v.file);
    const first = await outcome(writeCertificateSet(spec, asFiles(B)));
    expect(v.all()).toEqual(before);
    expect(AgentError.is(first) ? first.message : '').toBe('');
    // A second round: after the first write the directory is root's, and planting fails.
    expect(plant(v.fresh)).toContain('EACCES');
    await writeCertificateSet(spec, asFiles(A));
    expect(v.all()).toEqual(before);
    // The set is whole, the directory root's, and the owner still reads its key but can create nothing.
    expect((await readCertificateSet(spec)).files).toEqual(asFiles(A));
    expect(lstatSync(dir)).toMatchObject({ uid: 0, gid: who.gid });
    expect(canCreateIn(who, dir)).toBe('EACCES');
    expect(
      runAsAttacker(who, `process.stdout.write(fs.readFileSync(args[0], 'utf8'))`, join(dir, 'key.pem')),
    ).toBe(A.key);
  });

  it('(b) swapping a subdirectory for a symlink while leftovers are removed: root deletes nothing outside', async (ctx) => {
    if (!who) return ctx.skip(needRoot);
    const dir = join(base, 'b-set');
    const spec = ownerSpec(dir, who);
    await oldLayout(spec, who, A);
    const v = victims('b');
    const before = v.all();
    // The attacker keeps an orphan generation with a subdirectory `sub` that it swaps for a symlink to the
    // victim directory and back, all the time, while the agent removes leftovers again and again.
    const loop = startAttackLoop(
      who,
      `const g = path.join(args[0], '..2000_01_01_00_00_00_000.deadbeef');
       try { fs.mkdirSync(g); } catch {}
       const sub = path.join(g, 'sub'), hold = path.join(g, 'hold');
       try { fs.mkdirSync(sub); } catch {}
       for (const n of ['f1', 'f2', 'f3']) try { fs.writeFileSync(path.join(sub, n), 'x'); } catch {}
       const dwell = () => { const t = process.hrtime.bigint() + 300000n; while (process.hrtime.bigint() < t); };
       try { fs.renameSync(sub, hold); fs.symlinkSync(args[1], sub); dwell(); fs.unlinkSync(sub); fs.renameSync(hold, sub); dwell(); } catch {}`,
      20_000,
      dir,
      v.dir,
    );
    let runs = 0;
    let rounds = 0;
    try {
      const until = Date.now() + 15_000;
      await new Promise((resolve) => setTimeout(resolve, 500)); // let it plant the orphan first
      while (Date.now() < until && runs < 400) {
        await outcome(tidyCertificateDir(spec));
        runs++;
        if (v.all().join() !== before.join()) break;
      }
    } finally {
      rounds = await loop.stop();
    }
    expect(v.all()).toEqual(before);
    expect(rounds).toBeGreaterThan(10); // the attack really ran
    expect(runs).toBeGreaterThan(0);
    expect((await readCertificateSet(spec)).files).toEqual(asFiles(A));
    expect(canCreateIn(who, dir)).toBe('EACCES');
  }, 60_000);

  it('(c) a parent directory the owner can write: refused (unsafe-target, naming it and its owner), nothing written through a swapped-in symlink', async (ctx) => {
    if (!who) return ctx.skip(needRoot);
    for (const variant of ['owned', 'group-writable'] as const) {
      const parent = join(base, `c-parent-${variant}`);
      mkdirSync(parent, { mode: 0o755 });
      const dir = join(parent, 'set');
      const spec = ownerSpec(dir, who);
      // The parent as it was when the set was first written (writable by the attacker now).
      await oldLayout(spec, who, A).catch(() => undefined);
      if (variant === 'owned') chownSync(parent, who.uid, who.gid);
      else {
        chownSync(parent, 0, who.gid);
        chmodSync(parent, 0o775);
      }
      const rootDir = join(base, `c-root-${variant}`);
      mkdirSync(rootDir, { mode: 0o700 });
      writeFileSync(join(rootDir, 'root-only'), 'secret\n', { mode: 0o600 });
      const before = [rootDir, join(rootDir, 'root-only')].map(fingerprint);
      runAsAttacker(
        who,
        `fs.renameSync(args[0], args[0] + '.moved'); fs.symlinkSync(args[1], args[0]);`,
        dir,
        rootDir,
      );
      const error = await outcome(writeCertificateSet(spec, asFiles(B)));
      expect(AgentError.is(error) && error.code).toBe('unsafe-target');
      expect((error as AgentError).exitCode).toBe(6);
      expect((error as Error).message).toContain(
        variant === 'owned'
          ? `${parent} is owned by uid ${who.uid}`
          : `${parent} is writable by group ${who.gid} without the sticky bit`,
      );
      expect([rootDir, join(rootDir, 'root-only')].map(fingerprint)).toEqual(before);
    }
  });

  it('(d) a FIFO at ..lock does not block the writer: this set and the next are written', async (ctx) => {
    if (!who) return ctx.skip(needRoot);
    const dir = join(base, 'd-set');
    const other = join(base, 'd-other');
    const spec = ownerSpec(dir, who);
    await oldLayout(spec, who, A);
    runAsAttacker(
      who,
      `require('child_process').execFileSync('mkfifo', [path.join(args[0], '..lock')]);`,
      dir,
    );
    expect(lstatSync(join(dir, '..lock')).isFIFO()).toBe(true);
    const job = join(base, 'd-job.json');
    writeFileSync(
      job,
      JSON.stringify({
        sets: [
          { spec, files: asFiles(B) },
          { spec: specFor(other), files: asFiles(B) },
        ],
      }),
    );
    const out = await runWriter(job, 15_000);
    expect(out.timedOut, 'the writer hung on the FIFO').toBe(false);
    expect(out.stdout).toContain(`${dir} ok`);
    expect(out.stdout).toContain(`${other} ok`);
    expect(out.stdout).toContain('done');
    expect((await readCertificateSet(spec)).files).toEqual(asFiles(B));
    expect(existsSync(join(dir, '..lock'))).toBe(false);
  }, 30_000);

  it('(e) what the owner planted inside a generation before the take-over is never rolled back to', async (ctx) => {
    if (!who) return ctx.skip(needRoot);
    const dir = join(base, 'e-set');
    const spec = ownerSpec(dir, who);
    await oldLayout(spec, who, A);
    const v = victims('e');
    // The owner makes the current generation's key.pem a link to a root-only file.
    runAsAttacker(
      who,
      `const g = path.join(args[0], fs.readlinkSync(path.join(args[0], '..data')));
       fs.unlinkSync(path.join(g, 'key.pem')); fs.symlinkSync(args[1], path.join(g, 'key.pem'));`,
      dir,
      v.file,
    );
    await writeCertificateSet(spec, asFiles(B));
    // A failed health check would roll back: never onto the planted generation.
    const rolled = await rollbackCertificateSet(spec);
    expect(rolled.rolledBack).toBe(false);
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe(B.key);
    expect(readdirSync(dir).filter((n) => n.startsWith('..2'))).toHaveLength(1);
  });

  it('a lock the owner planted before the take-over (naming a live process of this boot) does not hold the set (review F3)', async (ctx) => {
    if (!who) return ctx.skip(needRoot);
    const dir = join(base, 'planted-lock');
    const spec = ownerSpec(dir, who);
    await oldLayout(spec, who, A);
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    // pid 1 is alive and of this boot: a lock of this agent's user naming it would be honoured until the deadline.
    runAsAttacker(who, `fs.writeFileSync(path.join(args[0], '..lock'), '1 ' + args[1] + '\\n');`, dir, boot);
    const started = Date.now();
    const r = await outcome(writeCertificateSet(spec, asFiles(B), { deadline: Date.now() + 5_000 }));
    expect(AgentError.is(r) ? r.message : '').toBe('');
    expect(Date.now() - started).toBeLessThan(4_000);
    expect((await readCertificateSet(spec)).files.cert).toBe(B.cert);
  }, 30_000);

  it('a sticky world-writable parent: a symlink raced in at a missing directory of the path makes root create nothing outside (review F1)', async (ctx) => {
    if (!who) return ctx.skip(needRoot);
    const sticky = join(base, 'sticky-missing');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const missing = join(sticky, 'missing');
    const spec = ownerSpec(join(missing, 'set'), who);
    const v = victims('sticky-missing');
    const before = v.all();
    // Any local user: plant a link at the missing name and take it away again, as fast as possible.
    const loop = startAttackLoop(
      who,
      'try { fs.symlinkSync(args[1], args[0]); } catch {} try { fs.unlinkSync(args[0]); } catch {}',
      20_000,
      missing,
      v.dir,
    );
    let rounds = 0;
    let tries = 0;
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const until = Date.now() + 8_000;
      while (Date.now() < until && tries < 150) {
        tries++;
        const r = await outcome(writeCertificateSet(spec, asFiles(A)));
        if (AgentError.is(r)) expect(['unsafe-target', 'write-failed']).toContain(r.code);
        if (v.all().join() !== before.join()) break;
        // Root made the path: take it away so that the next try races the creation again.
        if (lstatSync(missing, { throwIfNoEntry: false })?.uid === 0)
          rmSync(missing, { recursive: true, force: true });
      }
    } finally {
      rounds = await loop.stop();
    }
    expect(v.all()).toEqual(before);
    expect(rounds).toBeGreaterThan(10);
    expect(tries).toBeGreaterThan(5);
  }, 60_000);

  it('a sticky world-writable parent (like /tmp): the owner planting links and swapping its directory for a symlink gains nothing', async (ctx) => {
    if (!who) return ctx.skip(needRoot);
    const sticky = join(base, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const dir = join(sticky, 'set');
    const spec = ownerSpec(dir, who);
    const v = victims('sticky');
    const before = v.all();
    // The owner made the set directory itself (allowed in /tmp) and planted a link at the lock's name.
    runAsAttacker(
      who,
      `fs.mkdirSync(args[0], { mode: 0o755 }); fs.symlinkSync(args[1], path.join(args[0], '..lock.' + args[2]));`,
      dir,
      v.file,
      String(process.pid),
    );
    // ...and keeps swapping the directory for a symlink to a root-only directory and back.
    const loop = startAttackLoop(
      who,
      `try { fs.renameSync(args[0], args[0] + '.away'); fs.symlinkSync(args[1], args[0]);
             const t = Date.now() + 1; while (Date.now() < t);
             fs.unlinkSync(args[0]); fs.renameSync(args[0] + '.away', args[0]); } catch {}`,
      20_000,
      dir,
      v.dir,
    );
    const results: unknown[] = [];
    let rounds = 0;
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // the loop is running
      const until = Date.now() + 8_000;
      while (Date.now() < until && results.length < 100) {
        results.push(await outcome(writeCertificateSet(spec, asFiles(results.length % 2 ? A : B))));
        if (v.all().join() !== before.join()) break;
      }
    } finally {
      rounds = await loop.stop();
    }
    expect(v.all()).toEqual(before);
    expect(rounds).toBeGreaterThan(10);
    // Refusals are fine (the symlink was there at that moment); each is unsafe-target or a failed write.
    for (const r of results)
      if (AgentError.is(r)) expect(['unsafe-target', 'write-failed']).toContain(r.code);
    // Once it is root's, the owner can no longer move it (sticky) nor create anything in it.
    const last = await outcome(writeCertificateSet(spec, asFiles(A)));
    expect(AgentError.is(last) ? last.message : '').toBe('');
    expect(lstatSync(dir)).toMatchObject({ uid: 0 });
    expect(
      runAsAttacker(
        who,
        `try { fs.renameSync(args[0], args[0] + '.away'); process.stdout.write('moved'); } catch (e) { process.stdout.write(e.code); }`,
        dir,
      ),
    ).toBe('EPERM');
    expect(canCreateIn(who, dir)).toBe('EACCES');
    expect((await readCertificateSet(spec)).files).toEqual(asFiles(A));
  }, 60_000);
});

const TSX = new URL('../../node_modules/.bin/tsx', import.meta.url).pathname;
const WRITER = new URL('../support/set-writer.ts', import.meta.url).pathname;

function runWriter(job: string, timeoutMs: number): Promise<{ stdout: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(TSX, [WRITER, job], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-(child.pid as number), 'SIGKILL'); // tsx and the node process it started
    }, timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ stdout, timedOut });
    });
  });
}
