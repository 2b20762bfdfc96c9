/** A full filesystem (a real 64k tmpfs) turns into WriteError and leaves the current set alone. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { isGenerationName } from '../../src/files/layout.js';
import { readCertificateSet } from '../../src/files/read-set.js';
import { writeCertificateSet } from '../../src/files/write-set.js';
import { asFiles, makePair, type PemSet, specFor } from '../support/cert-pairs.js';

let base: string;
let mountPoint: string;
let mounted = false;
let whyNot = '';
let A: PemSet;
let B: PemSet;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'vpa-full-'));
  mountPoint = join(base, 'small');
  mkdirSync(mountPoint);
  A = makePair('A');
  B = makePair('B');
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', mountPoint], {
    encoding: 'utf8',
  });
  mounted = mount.status === 0;
  whyNot = mounted
    ? ''
    : `mount -t tmpfs is not permitted here: ${(mount.stderr || String(mount.error)).trim()}`;
});

afterAll(() => {
  if (mounted) spawnSync('umount', [mountPoint]);
  rmSync(base, { recursive: true, force: true });
});

describe('disk full', () => {
  it('reports ENOSPC as WriteError naming the file, removes the partial generation, keeps the old set', async (ctx) => {
    if (!mounted) ctx.skip(whyNot);
    const dir = join(mountPoint, 'certs');
    const spec = specFor(dir);
    const first = await writeCertificateSet(spec, asFiles(A));

    // 200k of chain cannot fit in 64k.
    const huge = { ...asFiles(B), fullchain: B.cert.repeat(Math.ceil(200_000 / B.cert.length)) };
    const error = await writeCertificateSet(spec, huge).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(AgentError.is(error)).toBe(true);
    const agentError = error as AgentError;
    expect(agentError.code).toBe('write-failed');
    expect(agentError.exitCode).toBe(6);
    expect(agentError.message).toMatch(/cannot write .*fullchain\.pem: ENOSPC/);
    expect(agentError.details.errno).toBe('ENOSPC');
    // The message names the file, never the content.
    expect(agentError.message).not.toContain('BEGIN');

    expect(readdirSync(dir).filter(isGenerationName)).toEqual([first.generation]);
    const read = await readCertificateSet(spec);
    expect(read.complete).toBe(true);
    expect(read.generation).toBe(first.generation);
    expect(read.files).toEqual(asFiles(A));

    // Space was given back: a set that fits still goes in.
    expect((await writeCertificateSet(spec, asFiles(B))).changed).toBe(true);
    expect((await readCertificateSet(spec)).files).toEqual(asFiles(B));
  });

  it('reports a read-only filesystem (EROFS) and keeps serving the set on it', async (ctx) => {
    if (!mounted) ctx.skip(whyNot);
    const dir = join(mountPoint, 'ro-certs');
    const spec = specFor(dir);
    await writeCertificateSet(spec, asFiles(A));
    const remount = spawnSync('mount', ['-o', 'remount,ro', mountPoint], { encoding: 'utf8' });
    if (remount.status !== 0) ctx.skip(`remount read-only not permitted: ${remount.stderr.trim()}`);
    try {
      const error = (await writeCertificateSet(spec, asFiles(B)).catch((e: unknown) => e)) as AgentError;
      expect(error.code).toBe('write-failed');
      expect(error.details.errno).toBe('EROFS');
      expect(error.message).toContain(dir);
      // Writing what is already there needs no write access at all.
      expect((await writeCertificateSet(spec, asFiles(A))).changed).toBe(false);
      expect((await readCertificateSet(spec)).files).toEqual(asFiles(A));
    } finally {
      spawnSync('mount', ['-o', 'remount,rw', mountPoint]);
    }
  });
});
