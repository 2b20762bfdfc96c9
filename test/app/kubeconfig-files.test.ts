/**
 * Component kubeconfigs (`kubeconfigs:`) written by the bundled agent after its pass against a real OpenBao,
 * read back by the real kubectl: each points at the agent's set files by path, is 0600 with the configured
 * owner, and is rewritten only when its content changes (not by a renewal, not by a run with nothing due).
 */
import { execFile } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAgent, startAgent, waitFor } from '../support/agent.js';
import { nodeConfig, type TestCert } from '../support/node-config.js';
import { REPO_ROOT, startOpenBao, type TestVault } from '../support/openbao.js';
import { createToken, provisionTestPki, writePolicy } from '../support/vault-pki.js';

const KUBECTL = join(REPO_ROOT, '.cache', 'tools', 'bin', 'kubectl');
const run = promisify(execFile);

let vault: TestVault;
let work: string;
let tokenFile: string;

const CERTS: TestCert[] = [
  { name: 'controller-manager', preset: 'controller-manager' },
  { name: 'scheduler', preset: 'scheduler' },
  { name: 'kubelet', preset: 'kubelet-client', mode: 'issue' },
  { name: 'admin', preset: 'admin', commonName: 'kubernetes-admin' },
];

function kubeconfigsYaml(server: string, names = CERTS.map((c) => c.name), owner?: string): string {
  return [
    'kubeconfigs:',
    ...names.flatMap((name) => [
      `  - path: ${join(work, 'kube', `${name}.conf`)}`,
      `    certificate: ${name}`,
      `    server: ${server}`,
      ...(owner ? [`    owner: ${owner}`] : []),
    ]),
  ].join('\n');
}

function writeConfig(certs: TestCert[], extra: string): string {
  const file = join(work, 'config.yaml');
  writeFileSync(file, nodeConfig({ address: vault.address, tokenFile, work, certs, extra }));
  return file;
}

async function kubectlView(file: string, ...flags: string[]) {
  const { stdout } = await run(KUBECTL, ['config', 'view', '--kubeconfig', file, '-o', 'json', ...flags]);
  return JSON.parse(stdout) as {
    clusters: { name: string; cluster: Record<string, string> }[];
    users: { name: string; user: Record<string, string> }[];
    contexts: { name: string; context: { cluster: string; user: string } }[];
    'current-context': string;
  };
}

const identity = (path: string) => {
  const st = statSync(path);
  return { ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
};

beforeAll(async () => {
  vault = await startOpenBao({ name: 'kubeconfigs' });
  const pki = await provisionTestPki(vault, 'c1');
  await writePolicy(vault, 'control-plane', [
    `${pki.k8sMount}/component`,
    `${pki.k8sMount}/kubelet-client`,
    `${pki.k8sMount}/admin`,
  ]);
});

afterAll(async () => {
  await vault?.stop();
});

beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), 'vpa-kubeconfigs-'));
  tokenFile = join(work, 'token');
  writeFileSync(tokenFile, `${await createToken(vault, { policies: ['control-plane'], period: '1h' })}\n`, {
    mode: 0o600,
  });
  return () => rmSync(work, { recursive: true, force: true });
});

describe('component kubeconfigs (real OpenBao, real kubectl)', () => {
  it('writes one kubeconfig per component, 0600 with its owner, pointing kubectl at the set files by path', async () => {
    const config = writeConfig(CERTS, kubeconfigsYaml('https://127.0.0.1:6443', undefined, 'nobody'));
    const boot = await runAgent(['bootstrap', '--config', config]);
    expect(boot.code, boot.stderr).toBe(0);
    const nobody = Number(
      readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('nobody:'))
        ?.split(':')[2],
    );
    for (const cert of CERTS) {
      const file = join(work, 'kube', `${cert.name}.conf`);
      const dir = join(work, 'pki', cert.name);
      const st = statSync(file);
      expect(st.mode & 0o7777, file).toBe(0o600);
      expect(st.uid).toBe(nobody);
      const view = await kubectlView(file);
      expect(view.clusters).toEqual([
        {
          name: 'c1',
          cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority': join(dir, 'ca.pem') },
        },
      ]);
      expect(view.users).toEqual([
        {
          name: cert.name,
          user: { 'client-certificate': join(dir, 'cert.pem'), 'client-key': join(dir, 'key.pem') },
        },
      ]);
      expect(view['current-context']).toBe(`${cert.name}@c1`);
      expect(view.contexts).toEqual([
        { name: `${cert.name}@c1`, context: { cluster: 'c1', user: cert.name } },
      ]);
      // kubectl follows the paths: the flattened file holds exactly the agent's set.
      const flat = await kubectlView(file, '--raw', '--flatten');
      const decoded = (v: string | undefined) => Buffer.from(v ?? '', 'base64').toString('utf8');
      expect(decoded(flat.users[0]?.user['client-certificate-data'])).toBe(
        readFileSync(join(dir, 'cert.pem'), 'utf8'),
      );
      expect(decoded(flat.users[0]?.user['client-key-data'])).toBe(
        readFileSync(join(dir, 'key.pem'), 'utf8'),
      );
      expect(decoded(flat.clusters[0]?.cluster['certificate-authority-data'])).toBe(
        readFileSync(join(dir, 'ca.pem'), 'utf8'),
      );
    }
    expect(boot.stderr.match(/kubeconfig written/g)?.length).toBe(CERTS.length);
  }, 60_000);

  it('a second bootstrap with nothing due leaves every file as it was (same inode, mtime, ctime)', async () => {
    const config = writeConfig(CERTS, kubeconfigsYaml('https://127.0.0.1:6443'));
    expect((await runAgent(['bootstrap', '--config', config])).code).toBe(0);
    const files = CERTS.map((c) => join(work, 'kube', `${c.name}.conf`));
    const before = files.map(identity);
    await new Promise((r) => setTimeout(r, 20));
    const again = await runAgent(['bootstrap', '--config', config]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/kubeconfig written/);
    expect(files.map(identity)).toEqual(before);
  }, 60_000);

  it('a renewal does not rewrite the kubeconfig; a changed server URL does', async () => {
    // Due at once at every run (Vault backdates notBefore by 5 s): each bootstrap renews it.
    const certs: TestCert[] = [{ name: 'kubelet', preset: 'kubelet-client', ttl: '60s', renewAt: '1%' }];
    let config = writeConfig(certs, kubeconfigsYaml('https://127.0.0.1:6443', ['kubelet']));
    expect((await runAgent(['bootstrap', '--config', config])).code).toBe(0);
    const file = join(work, 'kube', 'kubelet.conf');
    const certFile = join(work, 'pki', 'kubelet', 'cert.pem');
    const firstCert = readFileSync(certFile, 'utf8');
    const before = identity(file);
    const text = readFileSync(file, 'utf8');
    await new Promise((r) => setTimeout(r, 20));

    const renewed = await runAgent(['bootstrap', '--config', config]);
    expect(renewed.code, renewed.stderr).toBe(0);
    expect(readFileSync(certFile, 'utf8')).not.toBe(firstCert);
    expect(identity(file)).toEqual(before);
    expect(readFileSync(file, 'utf8')).toBe(text);

    config = writeConfig(certs, kubeconfigsYaml('https://api.c1.example.internal:6443', ['kubelet']));
    const moved = await runAgent(['bootstrap', '--config', config]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stderr).toMatch(/kubeconfig written/);
    expect(identity(file).ino).not.toBe(before.ino);
    expect((await kubectlView(file)).clusters[0]?.cluster.server).toBe(
      'https://api.c1.example.internal:6443',
    );
    expect(statSync(file).mode & 0o7777).toBe(0o600);
  }, 60_000);

  it('`run` writes them too, after its first pass', async () => {
    const config = writeConfig(
      CERTS.slice(0, 1),
      kubeconfigsYaml('https://127.0.0.1:6443', ['controller-manager']),
    );
    const file = join(work, 'kube', 'controller-manager.conf');
    const agent = startAgent(['run', '--config', config]);
    try {
      await waitFor(
        () => {
          try {
            return statSync(file).isFile();
          } catch {
            return false;
          }
        },
        20_000,
        'the kubeconfig',
      );
    } finally {
      await agent.stop('SIGTERM');
    }
    expect((await kubectlView(file)).users[0]?.user['client-certificate']).toBe(
      join(work, 'pki', 'controller-manager', 'cert.pem'),
    );
  }, 60_000);

  it('a symlink planted at the path is replaced, never followed; an unsafe directory is refused (exit 6)', async () => {
    const victim = join(work, 'victim');
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    mkdirSync(join(work, 'kube'), { mode: 0o755 });
    symlinkSync(victim, join(work, 'kube', 'admin.conf'));
    let config = writeConfig(CERTS.slice(3), kubeconfigsYaml('https://127.0.0.1:6443', ['admin']));
    const boot = await runAgent(['bootstrap', '--config', config]);
    expect(boot.code, boot.stderr).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(lstatSync(join(work, 'kube', 'admin.conf')).isFile()).toBe(true);

    // A directory others can write to (no sticky bit): anyone could swap the file; nothing is written.
    const open = join(work, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    config = writeConfig(
      CERTS.slice(3),
      [
        'kubeconfigs:',
        `  - { path: ${join(open, 'admin.conf')}, certificate: admin, server: "https://h:6443" }`,
      ].join('\n'),
    );
    const refused = await runAgent(['bootstrap', '--config', config]);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/refusing to write certificates under .*open: .* is world-writable/);
    expect(() => lstatSync(join(open, 'admin.conf'))).toThrow();

    // Writable by its group (no sticky bit): the group could swap the file too.
    chmodSync(open, 0o775);
    const byGroup = await runAgent(['bootstrap', '--config', config]);
    expect(byGroup.code).toBe(6);
    expect(byGroup.stderr).toMatch(
      /refusing to write under .*open: .* is writable by group \d+ without the sticky bit/,
    );
    expect(() => lstatSync(join(open, 'admin.conf'))).toThrow();
  }, 60_000);
});
