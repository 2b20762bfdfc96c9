/**
 * Files other commands read besides the agent config (review findings F7, F8): the provision file and the
 * kube-credential cache are read bounded and non-blocking, like the config and the token file.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadProvisionFile } from '../../src/app/provision.js';
import { readCredentialCache } from '../../src/kube/credential-cache.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const fifo = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpa-hostile-'));
  dirs.push(dir);
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  return path;
};

describe('hostile local files of the operator and engineer commands', () => {
  it('provision --provision-config /dev/zero or a FIFO: a config error at once (was ~9 GB of memory, or a hang)', async () => {
    await expect(loadProvisionFile('/dev/zero')).rejects.toThrow(
      /cannot read provision config \/dev\/zero: is a character device, not a regular file/,
    );
    await expect(loadProvisionFile(fifo())).rejects.toThrow(/is a FIFO \(named pipe\), not a regular file/);
  });

  it('a FIFO in the kube-credential cache means "no cache", not a hang', async () => {
    expect(await readCredentialCache(fifo())).toBeUndefined();
  });
});
