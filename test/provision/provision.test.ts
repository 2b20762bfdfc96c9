/**
 * `provision` and `token create` against a real OpenBao, run as separate processes the way operators
 * run them; write requests are counted in OpenBao's own audit log.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../support/agent.js';
import { auditCursor, writesOf } from '../support/audit-operations.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';

let vault: TestVault;
let work: string;

const agent = (args: string[], env: Record<string, string> = {}) =>
  runAgent(args, { env: { VAULT_ADDR: vault.address, VAULT_TOKEN: vault.rootToken, ...env } });

const changeLines = (stdout: string) => stdout.split('\n').filter((l) => /^[+~!] /.test(l));

async function tokenFor(nodeType: string, extra: string[] = []): Promise<string> {
  const run = await agent(['token', 'create', '--cluster', 'c1', '--node-type', nodeType, ...extra]);
  expect(run.code, run.stderr).toBe(0);
  const lines = run.stdout.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  // Printed on stdout only: never in the log on stderr.
  expect(run.stderr).not.toContain(lines[0]);
  return lines[0] as string;
}

async function issue(token: string, path: string, body: Record<string, unknown>) {
  return vault.api('POST', path, { key_type: 'ec', ttl: '1h', ...body }, { token, allowError: true });
}

beforeAll(async () => {
  vault = await startOpenBao({ name: 'provision', audit: true });
  await vault.api('POST', 'sys/auth/userpass', { type: 'userpass' });
  work = mkdtempSync(join(tmpdir(), 'vpa-provision-'));
});

afterAll(async () => {
  await vault?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('provision against a real OpenBao', () => {
  it('creates everything on an empty server; a second run reports no changes and makes zero writes', async () => {
    const first = auditCursor(vault);
    const run = await agent(['provision', '--cluster', 'c1', '--engineer-auth', 'userpass']);
    expect(run.code, run.stderr).toBe(0);
    for (const id of [
      'mount etcd/c1/pki',
      'ca k8s/c1/pki',
      'urls k8s-front-proxy/c1/pki',
      'role k8s/c1/pki/roles/kubelet-client',
      'role k8s/c1/pki/roles/engineer',
      'policy pki-c1-worker',
      'token-role pki-c1-etcd-member',
    ]) {
      expect(run.stdout).toContain(`+ ${id}:`);
    }
    expect(writesOf(first.since()).length).toBe(changeLines(run.stdout).length);

    const mounts = (await vault.api('GET', 'sys/mounts')).body.data as Record<
      string,
      { type: string; config: { max_lease_ttl: number } }
    >;
    for (const m of ['etcd/c1/pki/', 'k8s/c1/pki/', 'k8s-front-proxy/c1/pki/']) {
      expect(mounts[m]?.type).toBe('pki');
      expect(mounts[m]?.config.max_lease_ttl).toBe(87600 * 3600);
    }
    const ca = new X509Certificate(
      String((await vault.api('GET', 'k8s/c1/pki/cert/ca')).body.data?.certificate),
    );
    expect(ca.subject).toContain('CN=kubernetes-ca-c1');
    const urls = (await vault.api('GET', 'etcd/c1/pki/config/urls')).body.data;
    expect(urls?.issuing_certificates).toEqual([`${vault.address}/v1/etcd/c1/pki/ca`]);
    expect(urls?.crl_distribution_points).toEqual([`${vault.address}/v1/etcd/c1/pki/crl`]);
    // Zero storage per renewal: no role stores certificates or leases; every mount tidies what was stored before.
    for (const role of ['member', 'client', 'apiserver-etcd-client']) {
      const r = (await vault.api('GET', `etcd/c1/pki/roles/${role}`)).body.data;
      expect({ role, no_store: r?.no_store, generate_lease: r?.generate_lease }).toEqual({
        role,
        no_store: true,
        generate_lease: false,
      });
    }
    const tidy = (await vault.api('GET', 'k8s/c1/pki/config/auto-tidy')).body.data;
    expect(tidy).toMatchObject({ enabled: true, tidy_cert_store: true, tidy_revoked_certs: true });

    const second = auditCursor(vault);
    const again = await agent(['provision', '--cluster', 'c1', '--engineer-auth', 'userpass']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^no changes \(\d+ resources up to date\)$/m);
    expect(changeLines(again.stdout)).toEqual([]);
    const requests = second.since();
    expect(requests.length).toBeGreaterThan(0); // it did look
    expect(writesOf(requests)).toEqual([]);
  });

  it('--plan after a manual change to one role shows exactly that difference and changes nothing', async () => {
    const path = 'k8s/c1/pki/roles/kubelet-client';
    const role = (await vault.api('GET', path)).body.data as Record<string, unknown>;
    await vault.api('POST', path, { ...role, allow_ip_sans: true });

    const planCursor = auditCursor(vault);
    const plan = await agent(['provision', '--cluster', 'c1', '--engineer-auth', 'userpass', '--plan']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(changeLines(plan.stdout)).toEqual([`~ role ${path}: allow_ip_sans: true -> false`]);
    expect(writesOf(planCursor.since())).toEqual([]);
    expect((await vault.api('GET', path)).body.data?.allow_ip_sans).toBe(true);

    const applyCursor = auditCursor(vault);
    const apply = await agent(['provision', '--cluster', 'c1', '--engineer-auth', 'userpass']);
    expect(apply.code, apply.stderr).toBe(0);
    expect(writesOf(applyCursor.since())).toEqual([{ operation: 'update', path }]);
    expect((await vault.api('GET', path)).body.data?.allow_ip_sans).toBe(false);
  });

  it('token create: a periodic orphan token with exactly the node type policy, on stdout only', async () => {
    const token = await tokenFor('worker');
    const info = (await vault.api('GET', 'auth/token/lookup-self', undefined, { token })).body.data;
    expect(info?.policies).toEqual(['pki-c1-worker']);
    expect(info?.orphan).toBe(true);
    expect(info?.renewable).toBe(true);
    expect(info?.path).toBe('auth/token/create/pki-c1-worker');
    expect(info?.creation_ttl).toBe(168 * 3600);
    // Periodic: renewing resets the TTL to the period (a non-periodic token would keep counting down).
    const renewed = await vault.api('POST', 'auth/token/renew-self', {}, { token });
    expect(renewed.body.auth?.lease_duration).toBe(168 * 3600);

    const usage = await agent(['token', 'create', '--cluster', 'c1', '--node-type', 'engineer']);
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
  });

  it('policy walls: each node type issues only its own certificates', async () => {
    const worker = await tokenFor('worker');
    const member = await tokenFor('etcd-member');
    const controlPlane = await tokenFor('control-plane');

    // worker: kubelet certificates yes; etcd peer or admin no (policy), other identities no (role).
    const kubelet = await issue(worker, 'k8s/c1/pki/issue/kubelet-client', { common_name: 'system:node:w1' });
    expect(kubelet.status).toBe(200);
    const cert = new X509Certificate(String(kubelet.body.data?.certificate));
    expect(cert.subject).toBe('O=system:nodes\nCN=system:node:w1');
    expect((await issue(worker, 'etcd/c1/pki/issue/member', { common_name: 'w1' })).status).toBe(403);
    expect((await issue(worker, 'k8s/c1/pki/issue/admin', { common_name: 'kubernetes-admin' })).status).toBe(
      403,
    );
    expect(
      (await issue(worker, 'k8s/c1/pki/issue/component', { common_name: 'system:kube-scheduler' })).status,
    ).toBe(403);
    for (const cn of ['system:kube-scheduler', 'kubernetes-admin', 'system:node:*']) {
      const refused = await issue(worker, 'k8s/c1/pki/issue/kubelet-client', { common_name: cn });
      expect(refused.status, cn).toBe(400);
      expect(refused.body.errors?.join(' ')).toMatch(/not allowed by this role/);
    }
    // kubelet-client certificates carry no SANs (the kube-apiserver-client-kubelet signer forbids them).
    const withIp = await issue(worker, 'k8s/c1/pki/issue/kubelet-client', {
      common_name: 'system:node:w1',
      ip_sans: '10.0.0.1',
    });
    expect(withIp.status).toBe(400);

    // etcd-member: etcd certificates yes, nothing from the Kubernetes or front-proxy CA.
    expect(
      (await issue(member, 'etcd/c1/pki/issue/member', { common_name: 'e1', ip_sans: '10.0.0.5' })).status,
    ).toBe(200);
    for (const path of [
      'k8s/c1/pki/issue/apiserver',
      'k8s/c1/pki/issue/kubelet',
      'k8s/c1/pki/issue/kubelet-client',
      'k8s/c1/pki/issue/component',
      'k8s/c1/pki/issue/kubelet-client-admin',
      'k8s/c1/pki/issue/admin',
      'k8s/c1/pki/sign/engineer',
      'k8s-front-proxy/c1/pki/issue/front-proxy-client',
    ]) {
      expect((await issue(member, path, { common_name: 'kube-apiserver' })).status, path).toBe(403);
    }
    // control-plane: no kubelet identities, no etcd member certificates.
    for (const path of [
      'k8s/c1/pki/issue/kubelet-client',
      'k8s/c1/pki/issue/kubelet',
      'etcd/c1/pki/issue/member',
    ]) {
      expect((await issue(controlPlane, path, { common_name: 'system:node:x' })).status, path).toBe(403);
    }
    // Fixed-CN roles take exactly their CN.
    expect(
      (await issue(controlPlane, 'k8s/c1/pki/issue/component', { common_name: 'system:kube-scheduler' }))
        .status,
    ).toBe(200);
    expect(
      (await issue(controlPlane, 'k8s/c1/pki/issue/component', { common_name: 'system:masters' })).status,
    ).toBe(400);
  });

  it('engineer: Vault binds the CN to the login name; no system:node:* and no other names', async () => {
    const policies = ['pki-c1-engineer'];
    await vault.api('POST', 'auth/userpass/users/alice', { password: 'alice-pw', token_policies: policies });
    const login = await vault.api('POST', 'auth/userpass/login/alice', { password: 'alice-pw' });
    const token = String(login.body.auth?.client_token);

    const own = await issue(token, 'k8s/c1/pki/issue/engineer', { common_name: 'alice' });
    expect(own.status, JSON.stringify(own.body.errors)).toBe(200);
    const cert = new X509Certificate(String(own.body.data?.certificate));
    expect(cert.subject).toBe('CN=alice');
    for (const cn of ['bob', 'system:node:w1', 'alice.example', 'kubernetes-admin']) {
      const refused = await issue(token, 'k8s/c1/pki/issue/engineer', { common_name: cn });
      expect(refused.status, cn).toBe(400);
    }
    expect(
      (await issue(token, 'k8s/c1/pki/issue/kubelet-client', { common_name: 'system:node:w1' })).status,
    ).toBe(403);
    expect((await issue(token, 'k8s/c1/pki/issue/admin', { common_name: 'alice' })).status).toBe(403);
  });

  it('--parent: each cluster CA is an intermediate signed by the parent mount', async () => {
    await vault.api('POST', 'sys/mounts/org-root/pki', { type: 'pki', config: { max_lease_ttl: '175200h' } });
    const root = await vault.api('POST', 'org-root/pki/root/generate/internal', {
      common_name: 'org-root',
      ttl: '175200h',
      key_type: 'ec',
    });
    const run = await agent(['provision', '--cluster', 'c2', '--parent', 'org-root/pki']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('+ ca etcd/c2/pki: intermediate CA "etcd-ca-c2" signed by org-root/pki');
    const chainText = String((await vault.api('GET', 'etcd/c2/pki/cert/ca_chain')).body.data?.ca_chain ?? '');
    const chain = chainText.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    const inter = new X509Certificate(chain[0] as string);
    const parent = new X509Certificate(String(root.body.data?.certificate));
    expect(inter.subject).toContain('CN=etcd-ca-c2');
    expect(inter.verify(parent.publicKey)).toBe(true);
    const again = await agent(['provision', '--cluster', 'c2', '--parent', 'org-root/pki']);
    expect(again.stdout).toMatch(/^no changes/m);
  });

  it('the operator flow: provision -> token create -> bootstrap of a node config, plain and response-wrapped', async () => {
    // Every preset of each node type, issued by the agent's own bootstrap with only that node type's token.
    const presets: Record<string, string> = {
      'etcd-member': `
  etcd-server: { preset: etcd-server, files: { dir: DIR/etcd-server } }
  etcd-peer: { preset: etcd-peer, files: { dir: DIR/etcd-peer } }
  etcd-client: { preset: etcd-client, commonName: kube-etcd-healthcheck-client, files: { dir: DIR/etcd-client } }
  etcd-overlay-server: { preset: etcd-overlay-server, files: { dir: DIR/etcd-overlay-server } }
  etcd-overlay-peer: { preset: etcd-overlay-peer, files: { dir: DIR/etcd-overlay-peer } }`,
      'control-plane': `
  apiserver: { preset: apiserver, files: { dir: DIR/apiserver } }
  apiserver-etcd-client: { preset: apiserver-etcd-client, files: { dir: DIR/apiserver-etcd-client } }
  apiserver-kubelet-client: { preset: apiserver-kubelet-client, files: { dir: DIR/apiserver-kubelet-client } }
  controller-manager: { preset: controller-manager, files: { dir: DIR/controller-manager } }
  scheduler: { preset: scheduler, files: { dir: DIR/scheduler } }
  front-proxy-client: { preset: front-proxy-client, files: { dir: DIR/front-proxy-client } }
  etcd-client: { preset: etcd-client, commonName: kube-etcd-healthcheck-client, files: { dir: DIR/etcd-client } }
  etcd-grpc-proxy: { preset: etcd-grpc-proxy, files: { dir: DIR/etcd-grpc-proxy } }`,
      worker: `
  kubelet-serving: { preset: kubelet-serving, files: { dir: DIR/kubelet-serving } }
  kubelet-client: { preset: kubelet-client, mode: issue, files: { dir: DIR/kubelet-client } }
  flannel: { preset: etcd-overlay-client, commonName: flanneld, files: { dir: DIR/flannel } }`,
    };
    // Workers' kubelet serving certificates carry their node name: provision names the workers.
    const rules = join(work, 'provision.yaml');
    writeFileSync(rules, 'nodeNames:\n  worker: [node-1]\n');
    const named = await agent(['provision', '--cluster', 'c1', '--provision-config', rules]);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toContain('#   k8s/c1/pki/kubelet: node-1, system:node:node-1;');
    const runs: { nodeType: string; wrapped: boolean }[] = [
      { nodeType: 'etcd-member', wrapped: false },
      { nodeType: 'control-plane', wrapped: false },
      { nodeType: 'worker', wrapped: false },
      { nodeType: 'worker', wrapped: true },
    ];
    for (const { nodeType, wrapped } of runs) {
      const dir = mkdtempSync(join(work, `${nodeType}-`));
      const token = await tokenFor(nodeType, wrapped ? ['--wrap-ttl', '5m'] : []);
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
      writeFileSync(
        join(dir, 'config.yaml'),
        `cluster: c1
vault:
  address: ${vault.address}
  tokenFile: ${tokenFile}
  wrappedToken: ${wrapped}
defaults:
  ttl: 24h
node:
  name: node-1
  ip: 10.0.0.10
  loadBalancer: api.c1.example.internal
certificates:${presets[nodeType]?.replaceAll('DIR', dir)}
`,
      );
      // Only the node token: no VAULT_TOKEN in the environment.
      const run = await runAgent(['bootstrap', '--config', join(dir, 'config.yaml')], { env: {} });
      expect(run.code, `${nodeType}${wrapped ? ' (wrapped)' : ''}: ${run.stdout}\n${run.stderr}`).toBe(0);
      const names = [...(presets[nodeType] ?? '').matchAll(/^ {2}([a-z-]+):/gm)].map((m) => m[1]);
      for (const name of names) {
        expect(readFileSync(join(dir, name as string, 'cert.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
      }
      if (wrapped) {
        // The wrapping token was unwrapped once and replaced by the node token in the file.
        const stored = readFileSync(tokenFile, 'utf8').trim();
        expect(stored).not.toBe(token);
        const info = (await vault.api('GET', 'auth/token/lookup-self', undefined, { token: stored })).body
          .data;
        expect(info?.policies).toEqual(['pki-c1-worker']);
      }
      // Decommission with the node's own token: every set revoked by PEM + key, nothing stored to find it by.
      const revoke = await runAgent(['revoke', '--config', join(dir, 'config.yaml')], { env: {} });
      expect(revoke.code, `${nodeType} revoke: ${revoke.stdout}\n${revoke.stderr}`).toBe(0);
      for (const name of names) expect(revoke.stdout).toMatch(new RegExp(`^${name}: revoked serial `, 'm'));
    }
    const stored = await vault.api('LIST', 'k8s/c1/pki/certs', undefined, { allowError: true });
    // Only the CA itself and revocation entries: the issued certificates were never stored.
    const kept = (stored.body.data?.keys as string[] | undefined) ?? [];
    const revokedList = await vault.api('LIST', 'k8s/c1/pki/certs/revoked', undefined, { allowError: true });
    const revoked = (revokedList.body.data?.keys as string[] | undefined) ?? [];
    expect(kept.filter((k) => !revoked.includes(k)).length).toBeLessThanOrEqual(1);
  });
});
