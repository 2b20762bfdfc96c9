/**
 * Token rotation as docs/token-rotation.md runs it, against a real OpenBao: `token create` mints the
 * new node token, the workers template renders it into user data (the "parameter update"), a fresh
 * node boots from exactly the files that user data writes, then the old token is revoked and a node
 * still holding it fails its next pass with exit 4 and a message that says what to do.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentRun, runAgent } from '../support/agent.js';
import { materializeWriteFiles, renderUserData, sampleValues } from '../support/cfn-user-data.js';
// FAKE systemctl: the rotation's token handling as host processes; boot under a real systemd: test/system.
import { createFakeSystemctl } from '../support/fake-systemctl/index.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';

let vault: TestVault;
let work: string;
let caBase64: string;

const operator = (args: string[]) =>
  runAgent(args, { env: { VAULT_ADDR: vault.address, VAULT_TOKEN: vault.rootToken } });

async function tokenCreate(extra: string[] = []): Promise<string> {
  const r = await operator(['token', 'create', '--cluster', 'c1', '--node-type', 'worker', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** A worker instance: the workers template's user data for this token, written under its own root. */
function bootNode(name: string, token: string, wrapped = false) {
  const [userData] = renderUserData(
    'workers.yaml',
    sampleValues({
      VaultAddress: vault.address,
      VaultCaCertificate: caBase64,
      VaultToken: token,
      VaultTokenWrapped: String(wrapped),
    }),
  );
  const root = join(work, name);
  const config = materializeWriteFiles(userData?.text ?? '', root);
  const systemctl = createFakeSystemctl();
  const pass = () =>
    runAgent(['bootstrap', '--config', config], {
      env: { ...systemctl.env, VPA_SYSTEMCTL: systemctl.binary },
    });
  return { root, tokenFile: join(root, 'etc/vault-pki-agent/token'), pass };
}

const printed = (r: AgentRun) => `${r.stdout}${r.stderr}`;

beforeAll(async () => {
  vault = await startOpenBao({ name: 'rotation' });
  work = mkdtempSync(join(tmpdir(), 'vpa-rotation-'));
  // The workers' kubelet serving certificates carry their node name (the host name here): provision names them.
  const rules = join(work, 'provision.yaml');
  writeFileSync(rules, `nodeNames:\n  worker: [${JSON.stringify(hostname())}]\n`);
  const provision = await operator(['provision', '--cluster', 'c1', '--provision-config', rules]);
  expect(provision.code, provision.stderr).toBe(0);
  const ca = String((await vault.api('GET', 'k8s/c1/pki/cert/ca')).body.data?.certificate);
  caBase64 = Buffer.from(`${ca}\n`).toString('base64');
});

afterAll(async () => {
  await vault?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('token rotation through the VaultToken parameter (real OpenBao)', () => {
  it('new token -> fresh node bootstraps; old token revoked -> old node fails with exit 4 and says what to do', async () => {
    const oldToken = await tokenCreate();
    const oldNode = bootNode('old-node', oldToken);
    const first = await oldNode.pass();
    expect(first.code, first.stderr).toBe(0);
    expect(printed(first)).not.toContain(oldToken);

    // Rotation: mint, render into the user data (the stack update), boot a replacement from it.
    const newToken = await tokenCreate();
    expect(newToken).not.toBe(oldToken);
    const newNode = bootNode('new-node', newToken);
    expect(statSync(newNode.tokenFile).mode & 0o777).toBe(0o600);
    const boot = await newNode.pass();
    expect(boot.code, boot.stderr).toBe(0);
    expect(printed(boot)).not.toContain(newToken);
    for (const set of [
      'var/lib/kubelet/pki/serving',
      'var/lib/kubelet/pki/client',
      'etc/kubernetes/pki/flanneld-etcd-client',
    ]) {
      expect(readFileSync(join(newNode.root, set, 'cert.pem'), 'utf8')).toMatch(/BEGIN CERTIFICATE/);
      expect(statSync(join(newNode.root, set, 'key.pem')).mode & 0o777).toBe(0o600);
    }

    // The rollout finished: revoke the old token.
    const revoke = await vault.api('POST', 'auth/token/revoke', { token: oldToken });
    expect(revoke.status).toBeLessThan(300);

    const stale = await oldNode.pass();
    expect(stale.code, stale.stderr).toBe(4);
    expect(stale.stderr).toMatch(/token expired or revoked/);
    expect(stale.stderr).toContain('vault-pki-agent token create');
    expect(stale.stderr).toContain('VaultToken stack parameter');
    expect(printed(stale)).not.toContain(oldToken);

    // The replacement keeps working with its own token.
    const again = await newNode.pass();
    expect(again.code, again.stderr).toBe(0);
  });

  it('VaultTokenWrapped=true: the node unwraps the token once and keeps the result 0600 in the token file', async () => {
    const wrapping = await tokenCreate(['--wrap-ttl', '5m']);
    const node = bootNode('wrapped-node', wrapping, true);
    const boot = await node.pass();
    expect(boot.code, boot.stderr).toBe(0);
    const stored = readFileSync(node.tokenFile, 'utf8').trim();
    expect(stored).not.toBe(wrapping);
    expect(statSync(node.tokenFile).mode & 0o777).toBe(0o600);
    const info = await vault.api('GET', 'auth/token/lookup-self', undefined, { token: stored });
    expect(info.body.data?.policies).toEqual(['pki-c1-worker']);
    expect(printed(boot)).not.toContain(wrapping);
    expect(printed(boot)).not.toContain(stored);
  });
});
