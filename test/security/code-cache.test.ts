/**
 * The V8 code cache a run leaves in VPA_CODE_CACHE_DIR holds compiled code, not data from the run: after a
 * real bootstrap (token read, key generated, certificate written) neither the token nor the key is in it.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../support/agent.js';
import { writeTestNode } from '../support/node-setup.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { provisionTestPki, writePolicy } from '../support/vault-pki.js';

let vault: TestVault;
let work: string;

beforeAll(async () => {
  vault = await startOpenBao({ name: 'code-cache' });
  const pki = await provisionTestPki(vault, 'c1');
  await writePolicy(vault, 'node', [`${pki.etcdMount}/member`]);
  work = mkdtempSync(join(tmpdir(), 'vpa-code-cache-'));
});
afterAll(async () => {
  await vault?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the code cache of a run', () => {
  it('holds neither the token nor the private key of the run that wrote it', async () => {
    const { config, tokenFile } = await writeTestNode(vault, {
      work,
      policies: ['node'],
      period: '1h',
      certs: [{ name: 'etcd-peer', preset: 'etcd-peer' }],
    });
    const cacheDir = join(work, 'code-cache');
    mkdirSync(cacheDir, { mode: 0o700 });
    const run = await runAgent(['bootstrap', '--config', config], { env: { VPA_CODE_CACHE_DIR: cacheDir } });
    expect(run.code, run.stderr).toBe(0);
    const files = readdirSync(cacheDir).filter((f) => f.endsWith('.cache'));
    expect(files).toHaveLength(1);
    const cache = readFileSync(join(cacheDir, files[0] as string)).toString('latin1');
    const token = readFileSync(tokenFile, 'utf8').trim();
    const keyBody = readFileSync(join(work, 'pki', 'etcd-peer', 'key.pem'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
    expect(token.length).toBeGreaterThan(20);
    expect(keyBody.length).toBeGreaterThan(100);
    expect(cache.includes(token)).toBe(false);
    // Any 40-character run of the key's base64 would show a copy of the key.
    for (let i = 0; i + 40 <= keyBody.length; i += 40)
      expect(cache.includes(keyBody.slice(i, i + 40))).toBe(false);
  });
});
