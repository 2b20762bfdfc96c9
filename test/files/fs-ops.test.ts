import {
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
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, WriteError } from '../../src/errors.js';
import {
  attempt,
  errnoOf,
  replaceSymlink,
  syncDirectory,
  toWriteError,
  writeNewFiles,
} from '../../src/files/fs-ops.js';

const root = mkdtempSync(join(tmpdir(), 'vpa-fs-ops-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dir: string;
let n = 0;
beforeEach(() => {
  dir = join(root, `case-${++n}`);
  mkdirSync(dir);
});

const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('errors', () => {
  it('errnoOf reads a string code only', () => {
    expect(errnoOf(enospc)).toBe('ENOSPC');
    expect(errnoOf({ code: 28 })).toBeUndefined();
    expect(errnoOf(null)).toBeUndefined();
    expect(errnoOf('ENOSPC')).toBeUndefined();
  });

  it('toWriteError names the action, the path and the errno, and keeps typed errors as they are', () => {
    const error = toWriteError(enospc, 'write', '/etc/x/cert.pem');
    expect(error).toBeInstanceOf(WriteError);
    expect(error).toMatchObject({
      code: 'write-failed',
      details: { path: '/etc/x/cert.pem', errno: 'ENOSPC' },
    });
    expect(error.message).toBe('cannot write /etc/x/cert.pem: ENOSPC (no space left on device)');
    expect(toWriteError('odd', 'link', '/p').message).toBe('cannot link /p: unknown (odd)');
    const typed = new ConfigError('bad');
    expect(toWriteError(typed, 'write', '/p')).toBe(typed);
  });

  it('attempt passes a value through and wraps a failure', async () => {
    await expect(attempt('read', '/p', async () => 7)).resolves.toBe(7);
    await expect(
      attempt('fsync', '/p', async () => {
        throw enospc;
      }),
    ).rejects.toMatchObject({
      code: 'write-failed',
      message: 'cannot fsync /p: ENOSPC (no space left on device)',
    });
  });
});

describe('writeNewFiles', () => {
  it('creates each file with its data and exact mode, whatever the umask, after beforeSync', async () => {
    const seen: string[] = [];
    await writeNewFiles(
      dir,
      [
        { name: 'key.pem', data: Buffer.from('KEY'), mode: 0o600 },
        { name: 'cert.pem', data: Buffer.from('CERT'), mode: 0o644 },
      ],
      {},
      async () => {
        seen.push(readFileSync(join(dir, 'cert.pem'), 'utf8'));
      },
    );
    expect(seen).toEqual(['CERT']);
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe('KEY');
    expect(lstatSync(join(dir, 'key.pem')).mode & 0o7777).toBe(0o600);
    expect(lstatSync(join(dir, 'cert.pem')).mode & 0o7777).toBe(0o644);
  });

  it('never writes through an existing entry or a planted symlink', async () => {
    writeFileSync(join(root, `victim-${n}`), 'keep');
    symlinkSync(join(root, `victim-${n}`), join(dir, 'cert.pem'));
    await expect(
      writeNewFiles(dir, [{ name: 'cert.pem', data: Buffer.from('X'), mode: 0o644 }], {}),
    ).rejects.toMatchObject({ code: 'write-failed', details: { errno: 'EEXIST' } });
    expect(readFileSync(join(root, `victim-${n}`), 'utf8')).toBe('keep');
  });
});

describe('syncDirectory and replaceSymlink', () => {
  it('syncDirectory refuses what is not a directory', async () => {
    await expect(syncDirectory(dir)).resolves.toBeUndefined();
    writeFileSync(join(dir, 'file'), '');
    await expect(syncDirectory(join(dir, 'file'))).rejects.toMatchObject({ details: { errno: 'ENOTDIR' } });
  });

  it('replaces a link atomically, creates a missing one directly, and leaves no temporary link', async () => {
    const link = join(dir, '..data');
    const tmp = join(dir, '..data_tmp');
    await replaceSymlink(link, tmp, 'gen-1', { missing: true });
    expect(readlinkSync(link)).toBe('gen-1');
    await replaceSymlink(link, tmp, 'gen-2');
    expect(readlinkSync(link)).toBe('gen-2');
    // Told "missing" but something appeared meanwhile: falls back to the rename.
    await replaceSymlink(link, tmp, 'gen-3', { missing: true });
    expect(readlinkSync(link)).toBe('gen-3');
    // A stale temporary link from a killed writer is replaced.
    symlinkSync('stale', tmp);
    await replaceSymlink(link, tmp, 'gen-4');
    expect(readlinkSync(link)).toBe('gen-4');
    expect(() => lstatSync(tmp)).toThrow(/ENOENT/);
  });
});
