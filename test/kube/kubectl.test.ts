/**
 * The engineer's side, end to end: `provision` (with the engineer role bound to userpass logins),
 * `kubeconfig`, and real kubectl running `vault-pki-agent kube-credential` as its exec plugin against a
 * local HTTPS endpoint that accepts only client certificates from the cluster's Kubernetes CA.
 */
import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BIN, runAgent } from '../support/agent.js';
import { auditCursor } from '../support/audit-operations.js';
import {
  type ClientCertEndpoint,
  serialOf,
  startClientCertEndpoint,
} from '../support/client-cert-endpoint.js';
import { REPO_ROOT, startOpenBao, type TestVault } from '../support/openbao.js';

const KUBECTL = join(REPO_ROOT, '.cache', 'tools', 'bin', 'kubectl');

let vault: TestVault;
let endpoint: ClientCertEndpoint;
let home: string;
let binDir: string;
let caPem: string;
let aliceToken: string;

const kubeconfigFile = () => join(home, '.kube', 'config');
const cacheDir = () => join(home, 'cache', 'vault-pki-agent', 'kube-credential');
/** The engineer's environment: the agent on PATH as `vault-pki-agent`, their own Vault token. */
const engineerEnv = (extra: Record<string, string> = {}) => ({
  PATH: `${binDir}:${dirname(process.execPath)}:/usr/bin:/bin`,
  HOME: home,
  XDG_CACHE_HOME: join(home, 'cache'),
  VAULT_TOKEN: aliceToken,
  ...extra,
});

function kubectl(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(KUBECTL, args, { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function login(user: string): Promise<string> {
  const res = await vault.api('POST', `auth/userpass/login/${user}`, { password: `${user}-pw` });
  return String(res.body.auth?.client_token);
}

function cachedCertificate(): string {
  const files = readdirSync(cacheDir()).filter((f) => f.endsWith('.json'));
  expect(files).toHaveLength(1);
  const record = JSON.parse(readFileSync(join(cacheDir(), files[0] as string), 'utf8')) as {
    certificatePem: string;
  };
  return record.certificatePem;
}

beforeAll(async () => {
  vault = await startOpenBao({ name: 'kubectl', audit: true });
  await vault.api('POST', 'sys/auth/userpass', { type: 'userpass' });
  const provision = await runAgent(['provision', '--cluster', 'c1', '--engineer-auth', 'userpass'], {
    env: { VAULT_ADDR: vault.address, VAULT_TOKEN: vault.rootToken },
  });
  expect(provision.code, provision.stderr).toBe(0);
  for (const user of ['alice', 'bob']) {
    await vault.api('POST', `auth/userpass/users/${user}`, {
      password: `${user}-pw`,
      token_policies: ['pki-c1-engineer'],
    });
  }
  aliceToken = await login('alice');

  caPem = String((await vault.api('GET', 'k8s/c1/pki/cert/ca')).body.data?.certificate);
  const serving = await vault.api('POST', 'k8s/c1/pki/issue/apiserver', {
    common_name: 'kube-apiserver',
    ip_sans: '127.0.0.1',
    key_type: 'ec',
    ttl: '1h',
  });
  endpoint = await startClientCertEndpoint({
    caPem,
    certPem: String(serving.body.data?.certificate),
    keyPem: String(serving.body.data?.private_key),
  });

  home = mkdtempSync(join(tmpdir(), 'vpa-kube-'));
  binDir = join(home, 'bin');
  mkdirSync(binDir);
  symlinkSync(AGENT_BIN, join(binDir, 'vault-pki-agent'));
  mkdirSync(join(home, '.kube'));
  // An engineer's existing kubeconfig: nothing of it may be lost.
  writeFileSync(
    kubeconfigFile(),
    `apiVersion: v1
kind: Config
clusters:
- name: other
  cluster:
    server: https://other.example:6443
    insecure-skip-tls-verify: true
users:
- name: other-admin
  user:
    token: not-a-real-token
contexts:
- name: other
  context: { cluster: other, user: other-admin, namespace: kube-system }
current-context: other
preferences: {}
`,
    { mode: 0o644 },
  );
});

afterAll(async () => {
  await endpoint?.close();
  await vault?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('kubeconfig + kube-credential with real kubectl', () => {
  it('the endpoint refuses a client without a certificate from the Kubernetes CA', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = request(`${endpoint.url}/whoami`, { ca: caPem }, (res) =>
        resolve(`status ${res.statusCode}`),
      );
      req.on('error', (e) => resolve(`error ${e.message}`));
      req.end();
    });
    expect(outcome).toMatch(/^error/);
  });

  it('merges the cluster, user and context: other entries survive, 0600, exec plugin by default', async () => {
    const before = await kubectl(['config', 'view', '--raw', '-o', 'json'], { HOME: home });
    expect(before.code, before.stderr).toBe(0);
    const run = await runAgent(['kubeconfig', '--cluster', 'c1', '--server', endpoint.url], {
      env: { HOME: home, VAULT_ADDR: vault.address },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(statSync(kubeconfigFile()).mode & 0o777).toBe(0o600);

    const after = await kubectl(['config', 'view', '--raw', '-o', 'json'], { HOME: home });
    expect(after.code, after.stderr).toBe(0);
    const b = JSON.parse(before.stdout);
    const a = JSON.parse(after.stdout);
    const others = (list: { name: string }[]) => list.filter((e) => e.name.startsWith('other'));
    expect(others(a.clusters)).toEqual(others(b.clusters));
    expect(others(a.users)).toEqual(others(b.users));
    expect(others(a.contexts)).toEqual(others(b.contexts));
    expect(a['current-context']).toBe('other');

    const user = a.users.find((u: { name: string }) => u.name === 'c1-vault').user;
    expect(user.exec.apiVersion).toBe('client.authentication.k8s.io/v1');
    expect(user.exec.command).toBe('vault-pki-agent');
    expect(user.exec.args).toEqual(['kube-credential', '--cluster', 'c1']);
    expect(user.exec.env).toEqual([{ name: 'VAULT_ADDR', value: vault.address }]);
    const cluster = a.clusters.find((c: { name: string }) => c.name === 'c1').cluster;
    expect(Buffer.from(cluster['certificate-authority-data'], 'base64').toString()).toContain(caPem.trim());
  });

  it('kubectl runs the plugin and presents the Vault-issued certificate; the second call is served from the cache', async () => {
    const first = auditCursor(vault);
    const run = await kubectl(['--context', 'c1', 'get', '--raw', '/whoami'], engineerEnv());
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ commonName: 'alice', path: '/whoami' });
    const issued = first.since().map((r) => r.path);
    expect(issued.filter((p) => p === 'k8s/c1/pki/sign/engineer')).toHaveLength(1);
    expect(issued.some((p) => p.includes('/issue/'))).toBe(false); // the key stayed local: CSR only

    const pem = cachedCertificate();
    expect(endpoint.seen.at(-1)?.serial).toBe(serialOf(pem));
    expect(statSync(cacheDir()).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(cacheDir())) expect(statSync(join(cacheDir(), f)).mode & 0o777).toBe(0o600);

    const second = auditCursor(vault);
    const again = await kubectl(['--context', 'c1', 'get', '--raw', '/whoami'], engineerEnv());
    expect(again.code, again.stderr).toBe(0);
    expect(second.since()).toEqual([]); // zero Vault requests
    expect(endpoint.seen.at(-1)?.serial).toBe(serialOf(pem));
  });

  it('an expired cached certificate is renewed transparently', async () => {
    rmSync(cacheDir(), { recursive: true, force: true });
    const short = await runAgent(['kube-credential', '--cluster', 'c1', '--ttl', '2s'], {
      env: engineerEnv({ VAULT_ADDR: vault.address }),
    });
    expect(short.code, short.stderr).toBe(0);
    const credential = JSON.parse(short.stdout);
    expect(credential).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
    });
    expect(credential.status.clientKeyData).toContain('PRIVATE KEY');
    const expiredPem = cachedCertificate();
    expect(credential.status.clientCertificateData).toBe(expiredPem);
    await new Promise((r) => setTimeout(r, 3000));

    const cursor = auditCursor(vault);
    const run = await kubectl(['--context', 'c1', 'get', '--raw', '/whoami'], engineerEnv());
    expect(run.code, run.stderr).toBe(0);
    expect(cursor.since().filter((r) => r.path === 'k8s/c1/pki/sign/engineer')).toHaveLength(1);
    const renewed = cachedCertificate();
    expect(serialOf(renewed)).not.toBe(serialOf(expiredPem));
    expect(endpoint.seen.at(-1)?.serial).toBe(serialOf(renewed));
  });

  it('a revoked or expired Vault token gives a one-line login hint and exit 4', async () => {
    const token = await login('bob');
    await vault.api('POST', 'auth/token/revoke', { token });
    const run = await runAgent(['kube-credential', '--cluster', 'c1'], {
      env: engineerEnv({
        VAULT_ADDR: vault.address,
        VAULT_TOKEN: token,
        XDG_CACHE_HOME: join(home, 'bob-cache'),
      }),
    });
    expect(run.code).toBe(4);
    expect(run.stdout).toBe('');
    const lines = run.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/expired or revoked.*`vault login` \(or `bao login`\)/);
    expect(run.stderr).not.toContain(token);
  });

  it('--embed writes the certificate and key into the file; kubectl needs no plugin', async () => {
    const run = await runAgent(
      [
        'kubeconfig',
        '--cluster',
        'c1',
        '--server',
        endpoint.url,
        '--embed',
        '--user',
        'alice-embedded',
        '--context',
        'c1-embedded',
        '--use-context',
      ],
      { env: { HOME: home, VAULT_ADDR: vault.address, VAULT_TOKEN: aliceToken } },
    );
    expect(run.code, run.stderr).toBe(0);
    const view = JSON.parse(
      (await kubectl(['config', 'view', '--raw', '-o', 'json'], { HOME: home })).stdout,
    );
    expect(view['current-context']).toBe('c1-embedded');
    expect(view.users.map((u: { name: string }) => u.name).sort()).toEqual([
      'alice-embedded',
      'c1-vault',
      'other-admin',
    ]);
    const user = view.users.find((u: { name: string }) => u.name === 'alice-embedded').user;
    expect(user.exec).toBeUndefined();
    expect(Buffer.from(user['client-key-data'], 'base64').toString()).toContain('PRIVATE KEY');

    // No agent on PATH and no Vault token: only the embedded certificate can authenticate.
    const call = await kubectl(['get', '--raw', '/whoami'], { HOME: home, PATH: '/usr/bin:/bin' });
    expect(call.code, call.stderr).toBe(0);
    const pem = Buffer.from(user['client-certificate-data'], 'base64').toString();
    expect(JSON.parse(call.stdout)).toMatchObject({ commonName: 'alice', serial: serialOf(pem) });
  });
});
