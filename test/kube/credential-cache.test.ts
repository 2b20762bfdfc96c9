import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  credentialCacheDir,
  credentialCacheFile,
  hashToken,
  readCredentialCache,
  writeCredentialCache,
} from '../../src/kube/credential-cache.js';

const root = mkdtempSync(join(tmpdir(), 'vpa-kcache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('where the cache lives', () => {
  it('under $XDG_CACHE_HOME, else ~/.cache', () => {
    expect(credentialCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe(
      '/x/vault-pki-agent/kube-credential',
    );
    expect(credentialCacheDir({ XDG_CACHE_HOME: ' ', HOME: '/h' })).toBe(
      '/h/.cache/vault-pki-agent/kube-credential',
    );
    expect(credentialCacheDir({})).toBe(join(homedir(), '.cache/vault-pki-agent/kube-credential'));
  });

  it('one file per cluster, Vault address and mount; the cluster name made safe', () => {
    const a = credentialCacheFile('/d', 'prod', 'https://v1:8200', 'kubernetes-pki');
    expect(a).toMatch(/^\/d\/prod-[0-9a-f]{12}\.json$/);
    expect(credentialCacheFile('/d', 'prod', 'https://v1:8200', 'kubernetes-pki')).toBe(a);
    expect(credentialCacheFile('/d', 'prod', 'https://v2:8200', 'kubernetes-pki')).not.toBe(a);
    expect(credentialCacheFile('/d', 'prod', 'https://v1:8200', 'other')).not.toBe(a);
    expect(credentialCacheFile('/d', '../x y', 'a', 'm')).toMatch(/^\/d\/\.\._x_y-[0-9a-f]{12}\.json$/);
  });

  it('hashToken is the SHA-256 of the token, never the token', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('reading and writing', () => {
  it('writes the record 0600 in a 0700 directory and reads it back', async () => {
    const dir = join(root, 'new', 'cache');
    const path = join(dir, 'c.json');
    await writeCredentialCache(path, dir, { version: 1, a: 'b' });
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await expect(readCredentialCache(path)).resolves.toEqual({ version: 1, a: 'b' });
  });

  it('a missing, broken or oversized file is no cache', async () => {
    const dir = join(root, 'bad');
    mkdirSync(dir);
    await expect(readCredentialCache(join(dir, 'missing.json'))).resolves.toBeUndefined();
    writeFileSync(join(dir, 'broken.json'), '{"version":');
    await expect(readCredentialCache(join(dir, 'broken.json'))).resolves.toBeUndefined();
    writeFileSync(join(dir, 'huge.json'), `"${'x'.repeat(70 * 1024)}"`);
    await expect(readCredentialCache(join(dir, 'huge.json'))).resolves.toBeUndefined();
  });
});
