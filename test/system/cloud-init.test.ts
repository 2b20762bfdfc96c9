/**
 * The user data of each CloudFormation template (etcd member, control plane, worker), rendered with test
 * parameters (test/support/cfn-user-data.ts), run by a real cloud-init (Debian's package, NoCloud seed) in a container booted with systemd as PID 1
 * (test/support/nspawn.ts): bootcmd, write_files and runcmd as on an instance. runcmd's fetch-and-boot
 * downloads the release tarball (`npm pack` of this checkout) over HTTPS from a server in this process on
 * 127.0.0.1 (its throwaway CA added to the container's trust store), checks its SHA-256 and runs node-boot:
 * the agent and units installed, bootstrap through vault-pki-agent.service, cloud-init's copies of the token
 * scrubbed, and the success signal sent to a FAKE cfn-signal (test/support/fake-cfn-signal).
 *
 * Then the rotation (docs/token-rotation.md) for workers: a second instance boots from the user data rendered
 * with a new token; once the old token is revoked, the old instance's next run fails with exit 4 and says what
 * to do.
 *
 * The "AMI" of each node type has its components' units installed and enabled (as distribution packages do):
 * stand-ins that refuse to start without their certificate files (etcd's read from the environment files the
 * user data writes). On a first boot they start before cloud-init's runcmd has even installed the agent, and
 * fail: they come up through Restart= (kubelet: Restart=always, as kubeadm's unit) or through the agent's
 * `start: true` actions (etcd, the control plane; Debian's etcd unit has Restart=on-abnormal, which does not
 * retry a failed start).
 *
 * Environment that differs from EC2, and why: the seed directory stands in for the metadata service (so the
 * seed itself still holds the token: it is the fake IMDS, not a cloud-init copy); cloud-init's network
 * configuration is off (the container shares the host's network); the locale is C.UTF-8 (the minimal root
 * generates no other, an AMI has its own); Node.js 20 is the host's binary,
 * bind-mounted at /usr/local/bin/node (node-boot finds it on PATH, as on an AMI that ships Node.js 20).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../support/agent.js';
import { renderUserData, sampleValues, type TEMPLATES } from '../support/cfn-user-data.js';
import { type Container, createContainer, nspawnUnavailable } from '../support/nspawn.js';
import { REPO_ROOT, startOpenBao, type TestVault } from '../support/openbao.js';

const SKIP = nspawnUnavailable();
const FAKE_CFN_SIGNAL = join(REPO_ROOT, 'test/support/fake-cfn-signal/cfn-signal');
const SIGNAL_PATH = '/usr/local/bin/fake-cfn-signal';

let vault: TestVault;
let work: string;
let artifact: { url: string; sha256: string; server: Server; caPem: string };
let caBase64: string;
const containers: Container[] = [];

const operator = (args: string[]) =>
  runAgent(args, { env: { VAULT_ADDR: vault.address, VAULT_TOKEN: vault.rootToken } });

async function tokenCreate(nodeType: string): Promise<string> {
  const r = await operator(['token', 'create', '--cluster', 'c1', '--node-type', nodeType]);
  expect(r.code, r.stderr).toBe(0);
  // Not registered with the secret scan: `token create` prints it by design (checked in the container instead).
  return r.stdout.trim();
}

/** The release tarball the templates fetch, served over HTTPS on 127.0.0.1 with a throwaway CA. */
async function serveArtifact(): Promise<typeof artifact> {
  execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: REPO_ROOT, stdio: 'pipe' });
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error('npm pack wrote no tarball');
  const body = readFileSync(join(work, tgz));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=vpa-test-artifacts',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(work, 'https.key'),
      '-out',
      join(work, 'https.crt'),
    ],
    { stdio: 'pipe' },
  );
  const caPem = readFileSync(join(work, 'https.crt'), 'utf8');
  const server = createServer({ key: readFileSync(join(work, 'https.key')), cert: caPem }, (req, res) => {
    if (req.url !== `/${tgz}`) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/${tgz}`,
    sha256: createHash('sha256').update(body).digest('hex'),
    server,
    caPem,
  };
}

/** A component's stand-in unit: ExecStartPre refuses to start without the files (paths or $VARS) it names. */
function standinUnit(
  name: string,
  needs: string[],
  opts: { restart?: string; envFile?: string } = {},
): string {
  return [
    '[Unit]',
    `Description=stand-in ${name} (fails when its certificates are missing)`,
    'StartLimitIntervalSec=0',
    '[Service]',
    ...(opts.envFile ? [`EnvironmentFile=${opts.envFile}`] : []),
    `ExecStartPre=/usr/local/bin/standin-check ${name} ${needs.join(' ')}`,
    'ExecStart=/bin/sleep infinity',
    ...(opts.restart ? [`Restart=${opts.restart}`, 'RestartSec=2'] : []),
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

// Arguments are file paths, or names of environment variables holding one (etcd's ETCD_*_FILE).
const STANDIN_CHECK = `#!/bin/sh
unit=$1; shift
for need in "$@"; do
  case "$need" in /*) f=$need ;; *) eval "f=\\\${$need:-}" ;; esac
  [ -n "$f" ] && [ -s "$f" ] || { echo "stand-in $unit: $need ($f) missing" >&2; exit 1; }
done
`;

const pems = (dir: string) => ['cert.pem', 'key.pem', 'ca.pem'].map((f) => `${dir}/${f}`);
const ETCD_VARS = ['CERT', 'KEY', 'TRUSTED_CA', 'PEER_CERT', 'PEER_KEY', 'PEER_TRUSTED_CA'].map(
  (v) => `ETCD_${v}_FILE`,
);

interface NodeType {
  template: (typeof TEMPLATES)[number];
  nodeType: string;
  /** CFN_RESOURCE in the signal. */
  resource: string;
  hostname: string;
  /** Physical ids for Ref (etcd: no network interface to attach here). */
  resourceIds?: Record<string, string>;
  users: string[];
  units: Record<string, string>;
  /** Units ordered after vault-pki-agent.service (the shipped drop-ins, the template's own). */
  ordered: string[];
  /** Certificate set directories the user data's config names. */
  sets: string[];
}

const NODE_TYPES: NodeType[] = [
  {
    template: 'etcd.yaml',
    nodeType: 'etcd-member',
    resource: 'Member1Group',
    hostname: 'etcd-1',
    resourceIds: { Member1Interface: '', Member2Interface: '', Member3Interface: '' },
    users: ['etcd'],
    ordered: ['etcd.service', 'etcd-overlay.service'],
    units: {
      'etcd.service': standinUnit('etcd', ETCD_VARS, { restart: 'on-abnormal' }),
      'etcd-overlay.service': standinUnit('etcd-overlay', ETCD_VARS, { restart: 'on-abnormal' }),
    },
    sets: [
      '/etc/etcd/pki/server',
      '/etc/etcd/pki/peer',
      '/etc/etcd/pki/healthcheck-client',
      '/etc/etcd-overlay/pki/server',
      '/etc/etcd-overlay/pki/peer',
    ],
  },
  {
    template: 'control-plane.yaml',
    nodeType: 'control-plane',
    resource: 'ControlPlaneGroup',
    hostname: 'cp-a',
    users: [],
    // No drop-in orders controller-manager and scheduler: the agent's start: true brings them up.
    ordered: ['kube-apiserver.service'],
    units: {
      'kube-apiserver.service': standinUnit(
        'kube-apiserver',
        ['apiserver', 'apiserver-kubelet-client', 'front-proxy-client'].flatMap((d) =>
          pems(`/etc/kubernetes/pki/${d}`),
        ),
      ),
      'kube-controller-manager.service': standinUnit(
        'kube-controller-manager',
        pems('/etc/kubernetes/pki/controller-manager'),
      ),
      'kube-scheduler.service': standinUnit('kube-scheduler', pems('/etc/kubernetes/pki/scheduler')),
    },
    sets: [
      'apiserver',
      'apiserver-kubelet-client',
      'front-proxy-client',
      'controller-manager',
      'scheduler',
      'etcd-grpc-proxy',
    ].map((d) => `/etc/kubernetes/pki/${d}`),
  },
  {
    template: 'workers.yaml',
    nodeType: 'worker',
    resource: 'WorkerGroup',
    hostname: 'worker-a',
    users: [],
    ordered: ['kubelet.service'],
    units: {
      'kubelet.service': standinUnit(
        'kubelet',
        [...pems('/var/lib/kubelet/pki/serving'), ...pems('/var/lib/kubelet/pki/client')],
        { restart: 'always' },
      ),
    },
    sets: [
      '/var/lib/kubelet/pki/serving',
      '/var/lib/kubelet/pki/client',
      '/etc/kubernetes/pki/flanneld-etcd-client',
    ],
  },
];

/** An instance of a node type: the template's user data for this token, booted through cloud-init. */
async function bootInstance(type: NodeType, name: string, token: string): Promise<Container> {
  const [userData] = renderUserData(
    type.template,
    sampleValues({
      VaultAddress: vault.address,
      VaultCaCertificate: caBase64,
      VaultToken: token,
      AgentArtifactUrl: artifact.url,
      AgentArtifactSha256: artifact.sha256,
      CfnSignalPath: SIGNAL_PATH,
    }),
    type.resourceIds,
  );
  if (!userData) throw new Error(`${type.template} rendered no user data`);
  const ct = await createContainer({
    name,
    bindRo: [[realpathSync(process.execPath), '/usr/local/bin/node']],
  });
  containers.push(ct);
  const put = (path: string, content: string, mode = 0o644) => {
    const target = join(ct.root, path);
    mkdirSync(join(target, '..'), { recursive: true });
    writeFileSync(target, content, { mode });
  };
  // The "AMI": host name, users, the components' units (enabled), the artifact server's CA, the fake cfn-signal.
  put('/etc/hostname', `${name}\n`);
  put('/usr/local/bin/standin-check', STANDIN_CHECK, 0o755);
  mkdirSync(join(ct.root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  for (const [unit, text] of Object.entries(type.units)) {
    put(`/etc/systemd/system/${unit}`, text);
    symlinkSync(
      `/etc/systemd/system/${unit}`,
      join(ct.root, 'etc/systemd/system/multi-user.target.wants', unit),
    );
  }
  for (const user of type.users)
    execFileSync('chroot', [
      ct.root,
      'useradd',
      '--system',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      user,
    ]);
  appendFileSync(join(ct.root, 'etc/ssl/certs/ca-certificates.crt'), artifact.caPem);
  mkdirSync(join(ct.root, 'usr/local/bin'), { recursive: true });
  copyFileSync(FAKE_CFN_SIGNAL, join(ct.root, SIGNAL_PATH.slice(1)));
  // cloud-init: the NoCloud seed stands in for EC2's metadata service; no network configuration in a container.
  put(
    '/etc/cloud/cloud.cfg.d/99-vpa-test.cfg',
    'datasource_list: [NoCloud]\nnetwork: {config: disabled}\nlocale: C.UTF-8\n',
  );
  put('/var/lib/cloud/seed/nocloud/meta-data', `instance-id: i-${name}\nlocal-hostname: ${name}\n`);
  put('/var/lib/cloud/seed/nocloud/user-data', userData.text, 0o600);
  await ct.boot();
  return ct;
}

describe.skipIf(SKIP !== undefined)(
  `the templates' user data under real cloud-init${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    const tokens: Record<string, string> = {};
    const instances: Record<string, Container> = {};

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'vpa-cloud-init-'));
      vault = await startOpenBao({ name: 'system-cloud-init' });
      const rules = join(work, 'provision.yaml');
      writeFileSync(rules, 'nodeNames:\n  worker: [worker-a, worker-b]\n');
      const provision = await operator(['provision', '--cluster', 'c1', '--provision-config', rules]);
      expect(provision.code, provision.stderr).toBe(0);
      const ca = String((await vault.api('GET', 'k8s/c1/pki/cert/ca')).body.data?.certificate);
      caBase64 = Buffer.from(`${ca}\n`).toString('base64');
      artifact = await serveArtifact();
      for (const type of NODE_TYPES) tokens[type.template] = await tokenCreate(type.nodeType);
      // One instance per template, booted side by side.
      await Promise.all(
        NODE_TYPES.map(async (type) => {
          instances[type.template] = await bootInstance(type, type.hostname, tokens[type.template] as string);
        }),
      );
    }, 300_000);

    afterAll(async () => {
      await Promise.all(containers.map((ct) => ct.stop()));
      await new Promise((r) => artifact?.server.close(r));
      await vault?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    }, 120_000);

    const bootCompleted = async (type: NodeType, ct: Container, token: string) => {
      const status = ct.exec(['cloud-init', 'status', '--long']);
      expect(status.stdout, status.stdout + status.stderr).toMatch(/status: done/);
      // runcmd ran fetch-and-boot, which ran node-boot install: the agent and the units are installed.
      expect(ct.sh('/usr/local/bin/vault-pki-agent --version')).toMatch(/^vault-pki-agent \d+\.\d+\.\d+/);
      const agentLog = ct.exec([
        'journalctl',
        '-b',
        '-u',
        'vault-pki-agent.service',
        '-o',
        'cat',
        '--no-pager',
      ]).stdout;
      expect(ct.show('vault-pki-agent.service', 'Result'), agentLog).toBe('success');
      expect(ct.show('vault-pki-agent.service', 'ExecMainStatus')).toBe('0');
      expect(ct.show('vault-pki-agent-renew.timer', 'ActiveState')).toBe('active');
      expect(ct.sh('stat -c %a /etc/vault-pki-agent/token').trim()).toBe('600');
      expect(ct.sh('stat -c %a /etc/vault-pki-agent').trim()).toBe('700');
      for (const set of type.sets) expect(ct.sh(`stat -L -c %a ${set}/key.pem`).trim(), set).toBe('600');
      // Every component runs with its certificates (its ExecStartPre checked them): those ordered after the boot
      // unit started after it was done; the others (started by the agent's `start: true`) after it began. Those
      // with Restart= may be between two attempts when the boot ends.
      const agentBegan = Number(ct.show('vault-pki-agent.service', 'InactiveExitTimestampMonotonic'));
      const agentDone = Number(ct.show('vault-pki-agent.service', 'ActiveEnterTimestampMonotonic'));
      expect(agentDone).toBeGreaterThan(agentBegan);
      for (const unit of Object.keys(type.units)) {
        for (let i = 0; i < 150 && ct.show(unit, 'ActiveState') === 'activating'; i++)
          await new Promise((r) => setTimeout(r, 200));
        const unitLog = ct.exec(['journalctl', '-b', '-u', unit, '-o', 'cat', '--no-pager']).stdout;
        expect(ct.show(unit, 'ActiveState'), `${unit}\n${unitLog}`).toBe('active');
        // (systemd's own monotonic timestamps: /proc/uptime counts boot time, which differs after a VM suspend.)
        const started = Number(ct.show(unit, 'ExecMainStartTimestampMonotonic'));
        expect(started, unit).toBeGreaterThanOrEqual(type.ordered.includes(unit) ? agentDone : agentBegan);
      }
      // The token is in the token file and nowhere cloud-init keeps a copy or a log (the seed is the fake IMDS).
      expect(ct.sh('cat /etc/vault-pki-agent/token').trim()).toBe(token);
      const copies = ct.exec([
        'grep',
        '-rlsF',
        '--',
        token,
        '/var/lib/cloud',
        '/run/cloud-init',
        '/var/log',
        '/run/vault-pki-agent-boot',
      ]);
      const leaked = copies.stdout.split('\n').filter((f) => f && !f.startsWith('/var/lib/cloud/seed/'));
      expect(leaked).toEqual([]);
      expect(ct.exec(['journalctl', '-b', '-o', 'export', '--no-pager']).stdout).not.toContain(token);
      // The success signal, to the stand-in for cfn-signal.
      expect(ct.sh('cat /var/log/fake-cfn-signal.log').trim().split('\n')).toEqual([
        `--exit-code 0 --stack vpa-sample --resource ${type.resource} --region eu-west-1`,
      ]);
    };

    it.each(NODE_TYPES.map((t) => [t.template, t] as const))(
      '%s: cloud-init runs the user data; agent installed, bootstrap before the components, token 0600 and scrubbed, success signalled',
      async (template, type) => {
        await bootCompleted(type, instances[template] as Container, tokens[template] as string);
      },
    );

    it("rotation (workers): an instance from the new token works; the old one's renewal, its token revoked, fails with exit 4 and says what to do", async () => {
      const workers = NODE_TYPES.find((t) => t.template === 'workers.yaml') as NodeType;
      const old = instances['workers.yaml'] as Container;
      const oldToken = tokens['workers.yaml'] as string;
      const newToken = await tokenCreate('worker');
      const replacement = await bootInstance(workers, 'worker-b', newToken);
      await bootCompleted(workers, replacement, newToken);

      const revoke = await vault.api('POST', 'auth/token/revoke', { token: oldToken });
      expect(revoke.status).toBeLessThan(300);
      // The old instance's renewal (docs/token-rotation.md): its timer's next run with something due fails with
      // exit 4, and the renew unit shows failed. Something due: a set gone missing.
      old.sh('rm -rf /etc/kubernetes/pki/flanneld-etcd-client');
      const stale = old.systemctl('start', 'vault-pki-agent-renew.service');
      expect(stale.code).not.toBe(0);
      expect(old.show('vault-pki-agent-renew.service', 'ExecMainStatus')).toBe('4');
      expect(old.show('vault-pki-agent-renew.service', 'ActiveState')).toBe('failed');
      const id = old.show('vault-pki-agent-renew.service', 'InvocationID');
      let log = '';
      for (let i = 0; i < 100 && !/bootstrap finished|token expired or revoked/.test(log); i++) {
        await new Promise((r) => setTimeout(r, 200));
        log = old.exec([
          'journalctl',
          '-b',
          `_SYSTEMD_INVOCATION_ID=${id}`,
          '-o',
          'cat',
          '--no-pager',
        ]).stdout;
      }
      expect(log).toMatch(/token expired or revoked/);
      expect(log).toContain('VaultToken stack parameter');
      expect(log).not.toContain(oldToken);

      const again = replacement.systemctl('restart', 'vault-pki-agent.service');
      expect(again.code, again.stderr).toBe(0);
    }, 240_000);
  },
);
