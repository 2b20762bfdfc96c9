import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { readCertificateSet } from '../../src/files/read-set.js';
import { writeCertificateSet } from '../../src/files/write-set.js';
import { asFiles, makePair, type PemSet, specFor } from '../support/cert-pairs.js';

const isRoot = process.geteuid?.() === 0;
const NOBODY = 65534;
let base: string;
let A: PemSet;
let B: PemSet;

async function refusal(promise: Promise<unknown>): Promise<AgentError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(AgentError.is(error)).toBe(true);
  return error as AgentError;
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'vpa-safety-'));
  A = makePair('A');
  B = makePair('B');
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

describe('unsafe targets', () => {
  it('refuses a world-writable parent without the sticky bit, before creating anything', async () => {
    const open = join(base, 'wide-open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const error = await refusal(writeCertificateSet(specFor(join(open, 'certs')), asFiles(A)));
    expect(error.code).toBe('unsafe-target');
    expect(error.exitCode).toBe(6);
    expect(error.message).toContain(`${open} is world-writable without the sticky bit`);
    expect(existsSync(join(open, 'certs'))).toBe(false);
  });

  it('accepts a root-owned sticky world-writable parent (like /tmp)', async () => {
    const sticky = join(base, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const result = await writeCertificateSet(specFor(join(sticky, 'certs')), asFiles(A));
    expect(result.changed).toBe(true);
  });

  it('refuses relative paths and file names that leave the directory', async () => {
    expect((await refusal(writeCertificateSet(specFor('relative/certs'), asFiles(A)))).code).toBe(
      'unsafe-target',
    );
    expect((await refusal(writeCertificateSet(specFor(`${base}/a/../b`), asFiles(A)))).code).toBe(
      'unsafe-target',
    );
    const spec = specFor(join(base, 'names'));
    spec.names.key = '../key.pem';
    expect((await refusal(writeCertificateSet(spec, asFiles(A)))).code).toBe('unsafe-target');
    spec.names.key = '..data';
    expect((await refusal(writeCertificateSet(spec, asFiles(A)))).message).toMatch(/reserved/);
  });

  it('refuses a ..data symlink planted to point outside the directory', async () => {
    const dir = join(base, 'planted-data');
    mkdirSync(dir, { mode: 0o750 });
    symlinkSync('/etc', join(dir, '..data'));
    symlinkSync('..data/passwd', join(dir, 'cert.pem'));
    const error = await refusal(writeCertificateSet(specFor(dir), asFiles(A)));
    expect(error.code).toBe('unsafe-target');
    expect(error.message).toContain('not at a generation');
    expect((await refusal(readCertificateSet(specFor(dir)))).code).toBe('unsafe-target');
  });

  it('replaces a planted per-file symlink instead of writing through it', async () => {
    const dir = join(base, 'planted-file');
    const victim = join(base, 'victim.txt');
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    await writeCertificateSet(specFor(dir), asFiles(A));
    rmSync(join(dir, 'key.pem'));
    symlinkSync(victim, join(dir, 'key.pem'));
    expect((await readCertificateSet(specFor(dir))).problems).toEqual([
      { role: 'key', path: join(dir, 'key.pem'), reason: 'foreign' },
    ]);
    const result = await writeCertificateSet(specFor(dir), asFiles(B));
    expect(result.changed).toBe(true);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(lstatSync(victim).mode & 0o777).toBe(0o644);
    expect(readlinkSync(join(dir, 'key.pem'))).toBe('..data/key.pem');
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe(B.key);
  });

  it('refuses files.dir being a symlink owned by another user (root needed to plant it)', async (ctx) => {
    if (!isRoot) ctx.skip('needs root to create a symlink owned by another user (lchown)');
    const shared = join(base, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const attacker = join(base, 'attacker-dir');
    mkdirSync(attacker);
    chownSync(attacker, NOBODY, NOBODY);
    const link = join(shared, 'certs');
    symlinkSync(attacker, link);
    lchownSync(link, NOBODY, NOBODY);
    const error = await refusal(writeCertificateSet(specFor(link), asFiles(A)));
    expect(error.code).toBe('unsafe-target');
    expect(error.message).toContain(`${link} is a symlink owned by uid ${NOBODY}`);
    expect(existsSync(join(attacker, '..data'))).toBe(false);
  });

  it('refuses a root-owned symlink whose real path runs through a directory another user owns', async (ctx) => {
    if (!isRoot) ctx.skip('needs root to chown a directory to another user');
    const home = join(base, 'home-of-nobody');
    mkdirSync(join(home, 'pki'), { recursive: true });
    chownSync(home, NOBODY, NOBODY);
    const link = join(base, 'etc-pki');
    symlinkSync(join(home, 'pki'), link);
    const error = await refusal(writeCertificateSet(specFor(link), asFiles(A)));
    expect(error.code).toBe('unsafe-target');
    expect(error.message).toContain(`${home} (resolved from ${link}) is owned by uid ${NOBODY}`);
    // The same directory through a trusted chain is fine.
    chownSync(home, 0, 0);
    expect((await writeCertificateSet(specFor(link), asFiles(A))).changed).toBe(true);
    expect(readlinkSync(join(home, 'pki', 'cert.pem'))).toBe('..data/cert.pem');
  });

  it('refuses an existing files.dir owned by another user', async (ctx) => {
    if (!isRoot) ctx.skip('needs root to chown a directory to another user');
    const dir = join(base, 'foreign-owned');
    mkdirSync(dir, { mode: 0o750 });
    chownSync(dir, NOBODY, NOBODY);
    const error = await refusal(writeCertificateSet(specFor(dir), asFiles(A)));
    expect(error.message).toContain(`${dir} is owned by uid ${NOBODY}`);
    // ...unless that user is the set's configured owner.
    const result = await writeCertificateSet(specFor(dir, { owner: String(NOBODY) }), asFiles(A));
    expect(result.changed).toBe(true);
  });

  it('refuses a root-owned symlink that lives in a directory another user owns (they could swap it)', async (ctx) => {
    if (!isRoot) ctx.skip('needs root to chown a directory to another user');
    const theirs = join(base, 'their-dir');
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, NOBODY, NOBODY);
    const real = join(base, 'real-pki');
    mkdirSync(real, { mode: 0o750 });
    const link = join(theirs, 'certs');
    symlinkSync(real, link); // made by root, but in a directory the other user can change at will
    const error = await refusal(writeCertificateSet(specFor(link), asFiles(A)));
    expect(error.code).toBe('unsafe-target');
    expect(error.message).toContain(`${theirs} is owned by uid ${NOBODY}`);
    expect(existsSync(join(real, '..data'))).toBe(false);
  });

  it('refuses a group-writable directory on the way (no sticky bit), naming it and the group', async (ctx) => {
    if (!isRoot) ctx.skip('needs root to hand a directory to another group');
    const shared = join(base, 'group-shared');
    mkdirSync(shared);
    chownSync(shared, 0, NOBODY);
    chmodSync(shared, 0o775);
    const dir = join(shared, 'set');
    const error = await refusal(writeCertificateSet(specFor(dir), asFiles(A)));
    expect(error.code).toBe('unsafe-target');
    expect(error.message).toContain(`${shared} is writable by group ${NOBODY} without the sticky bit`);
    expect(existsSync(dir)).toBe(false);
  });
});
