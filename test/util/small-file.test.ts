/** readSmallFile: regular files only (a FIFO or a device is refused at once, never waited on), bounded size. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readSmallFile, SmallFileError } from '../../src/util/small-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vpa-small-file-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function refused(path: string, max = 1024): SmallFileError {
  try {
    readSmallFile(path, max);
  } catch (e) {
    if (e instanceof SmallFileError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('readSmallFile', () => {
  it('reads a regular file (through a symlink too)', () => {
    writeFileSync(join(dir, 'f'), 'hello');
    symlinkSync(join(dir, 'f'), join(dir, 'l'));
    expect(readSmallFile(join(dir, 'f'), 5).data.toString()).toBe('hello');
    expect(readSmallFile(join(dir, 'l'), 5).data.toString()).toBe('hello');
  });

  it('refuses a file larger than the limit', () => {
    writeFileSync(join(dir, 'f'), 'x'.repeat(1025));
    const e = refused(join(dir, 'f'));
    expect(e.code).toBe('EFBIG');
    expect(e.message).toBe('is larger than 1 KiB, more than such a file ever holds');
  });

  it('refuses /dev/zero (a character device) without reading it', () => {
    const e = refused('/dev/zero');
    expect(e.code).toBe('ENOTREG');
    expect(e.message).toBe('is a character device, not a regular file');
  });

  it('refuses a FIFO at once, with no writer on the other end (no blocking open)', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    expect(refused(fifo).message).toBe('is a FIFO (named pipe), not a regular file');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses a directory; a missing file is ENOENT', () => {
    expect(refused(dir).message).toBe('is a directory, not a regular file');
    expect(() => readSmallFile(join(dir, 'missing'), 10)).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });
});
