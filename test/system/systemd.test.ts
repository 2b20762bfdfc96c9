/**
 * The shipped units under a real systemd (PID 1 of a Debian container, test/support/nspawn.ts), with the
 * agent installed the way an instance gets it (cloudformation/node-boot.sh install-agent), talking to this
 * file's OpenBao on the host's 127.0.0.1 (the `run` test goes through the fault-injection proxy, which
 * forwards everything unless told to hold a request; the proxy lives in this process, so only commands run
 * with execAsync may make the agent talk to it).
 *
 * The image is prepared in a first boot (users, stand-in components, the agent, config, token, units
 * enabled), then rebooted: the second boot is the instance's boot, ordered by systemd alone.
 *
 * Stand-in etcd and kubelet units (ExecStartPre fails when their certificate files are missing) record
 * every start in /var/log/standin/<unit>.starts, so "restarted once" is counted, not assumed.
 *
 * Runtime: the host's own `node` binary (Node 20) is bind-mounted read-only at /usr/local/bin/node. The
 * point here is systemd and the units, not the runtime, and it costs nothing; the Debian package carries
 * its own runtime (the single-executable build) and is installed by test/system/package.test.ts.
 */
import { X509Certificate } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CFN_DIR, TEMPLATES } from '../support/cfn-user-data.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { type Container, createContainer, nspawnUnavailable } from '../support/nspawn.js';
import { REPO_ROOT, startOpenBao, type TestVault } from '../support/openbao.js';
import { createToken, provisionTestPki, writePolicy } from '../support/vault-pki.js';

const SKIP = nspawnUnavailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let vault: TestVault;
let proxy: FaultProxy;
let ct: Container;
let token: string;

const CONFIG = '/etc/vault-pki-agent/config.yaml';
const RENEWED_SAN = 'renewed.node-1.example.internal';

interface Cert {
  name: string;
  preset: string;
  dir: string;
  owner?: string;
  unit?: string;
  altNames?: string[];
}

const CERTS: Cert[] = [
  {
    name: 'etcd-server',
    preset: 'etcd-server',
    dir: '/etc/etcd/pki/server',
    owner: 'etcd',
    unit: 'etcd.service',
  },
  { name: 'etcd-peer', preset: 'etcd-peer', dir: '/etc/etcd/pki/peer', owner: 'etcd', unit: 'etcd.service' },
  {
    name: 'kubelet-client',
    preset: 'kubelet-client',
    dir: '/var/lib/kubelet/pki/client',
    unit: 'kubelet.service',
  },
];
/** What the config currently asks for. */
let current = CERTS;

function configYaml(certs: Cert[], address = vault.address): string {
  const lines = [
    'cluster: c1',
    'vault:',
    `  address: ${address}`,
    '  tokenFile: /etc/vault-pki-agent/token',
    'stateDir: /var/lib/vault-pki-agent',
    'node:',
    '  name: node-1',
    '  ip: 10.0.0.10',
    'certificates:',
  ];
  for (const c of certs) {
    lines.push(`  ${c.name}:`, `    preset: ${c.preset}`);
    if (c.altNames) lines.push(`    altNames: ${JSON.stringify(c.altNames)}`);
    lines.push(
      c.owner
        ? `    files: { dir: ${c.dir}, owner: ${c.owner}, group: ${c.owner} }`
        : `    files: { dir: ${c.dir} }`,
    );
    if (c.unit) lines.push('    actions:', `      - systemd: { unit: ${c.unit}, action: restart }`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes a file into the container's file system from the host. */
function put(path: string, content: string, mode = 0o644): void {
  const target = join(ct.root, path);
  mkdirSync(join(target, '..'), { recursive: true });
  writeFileSync(target, content, { mode });
}

const STANDIN_CHECK = `#!/bin/sh
# Stand-in component: refuses to start without its certificate files, records each start.
unit=$1; shift
for dir in "$@"; do
  for f in cert.pem key.pem ca.pem; do
    [ -s "$dir/$f" ] || { echo "stand-in $unit: $dir/$f missing" >&2; exit 1; }
  done
done
mkdir -p /var/log/standin
echo "start $(cat /proc/uptime)" >>"/var/log/standin/$unit.starts"
`;

const standinUnit = (name: string, dirs: string[]) => `[Unit]
Description=stand-in ${name} (fails when its certificates are missing)
[Service]
ExecStartPre=/usr/local/bin/standin-check ${name} ${dirs.join(' ')}
ExecStart=/bin/sleep infinity
[Install]
WantedBy=multi-user.target
`;

const starts = (unit: string): number => {
  const r = ct.exec(['cat', `/var/log/standin/${unit}.starts`]);
  return r.code === 0 ? r.stdout.split('\n').filter(Boolean).length : 0;
};

const journalText = (unit: string) =>
  ct.exec(['journalctl', '-b', '-u', unit, '-o', 'cat', '--no-pager']).stdout;
/** The journal of the unit's latest run only. */
const lastRunJournal = (unit: string) =>
  ct.exec([
    'journalctl',
    '-b',
    `_SYSTEMD_INVOCATION_ID=${ct.show(unit, 'InvocationID')}`,
    '-o',
    'cat',
    '--no-pager',
  ]).stdout;

async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(200);
  }
}

const agentJournal = (unit: string) =>
  ct
    .exec(['journalctl', '-b', '-u', unit, '-o', 'json', '--no-pager'])
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, string>);

/** The certificate of a set, read from the host through the overlay (the set's links are relative). */
const certOf = (dir: string) => new X509Certificate(readFileSync(join(ct.root, dir, 'cert.pem')));

describe.skipIf(SKIP !== undefined)(`units under a real systemd${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    vault = await startOpenBao({ name: 'system-systemd' });
    proxy = await startFaultProxy(vault.address);
    const pki = await provisionTestPki(vault, 'c1');
    await writePolicy(vault, 'node', [`${pki.etcdMount}/member`, `${pki.k8sMount}/kubelet-client`]);
    token = await createToken(vault, { policies: ['node'], period: '24h' });

    ct = await createContainer({
      name: 'systemd',
      bindRo: [[realpathSync(process.execPath), '/usr/local/bin/node']],
    });
    // What a release tarball holds (npm pack): the built agent, the units, node-boot.
    const pkg = join(ct.root, 'root/pkg');
    for (const f of ['vault-pki-agent.cjs', 'vault-pki-agent-program.cjs'])
      cpSync(join(REPO_ROOT, 'dist', f), join(pkg, 'dist', f), { recursive: true });
    cpSync(join(REPO_ROOT, 'units'), join(pkg, 'units'), { recursive: true });
    cpSync(join(REPO_ROOT, 'cloudformation/node-boot.sh'), join(pkg, 'cloudformation/node-boot.sh'));
    put('/usr/local/bin/standin-check', STANDIN_CHECK, 0o755);
    put(
      '/etc/systemd/system/etcd.service',
      standinUnit('etcd', ['/etc/etcd/pki/server', '/etc/etcd/pki/peer']),
    );
    put('/etc/systemd/system/kubelet.service', standinUnit('kubelet', ['/var/lib/kubelet/pki/client']));
    mkdirSync(join(ct.root, 'etc/vault-pki-agent'), { recursive: true, mode: 0o700 });
    put('/etc/vault-pki-agent/token', `${token}\n`, 0o600);
    put(CONFIG, configYaml(CERTS), 0o600);

    // First boot: bake the image.
    await ct.boot();
    ct.sh('useradd --system --no-create-home --shell /usr/sbin/nologin etcd');
    ct.sh('mkdir -p /etc/etcd /var/lib/kubelet && chmod 0750 /etc/etcd');
    ct.sh('bash /root/pkg/cloudformation/node-boot.sh install-agent /root/pkg >/dev/null');
    ct.sh(
      'systemctl enable vault-pki-agent.service vault-pki-agent-renew.timer etcd.service kubelet.service',
    );
    // Second boot: the instance's boot.
    await ct.halt();
    await ct.boot();
  }, 240_000);

  afterAll(async () => {
    await ct?.stop();
    await proxy?.close();
    await vault?.stop();
  }, 120_000);

  it('boot: the oneshot bootstrap runs before the consumer units, which start once with their certificates', () => {
    expect(ct.show('vault-pki-agent.service', 'Result')).toBe('success');
    expect(ct.show('vault-pki-agent.service', 'ExecMainStatus')).toBe('0');
    for (const unit of ['etcd.service', 'kubelet.service']) {
      expect(ct.show(unit, 'ActiveState'), ct.systemctl('status', unit).stdout).toBe('active');
      // Ordered by systemd: the component began starting only after the agent's oneshot was done.
      const agentDone = Number(ct.show('vault-pki-agent.service', 'ActiveEnterTimestampMonotonic'));
      const unitBegan = Number(ct.show(unit, 'InactiveExitTimestampMonotonic'));
      expect(agentDone).toBeGreaterThan(0);
      expect(unitBegan).toBeGreaterThanOrEqual(agentDone);
    }
    // Started by systemd once at boot; the agent leaves units that are not yet running alone.
    expect(starts('etcd')).toBe(1);
    expect(starts('kubelet')).toBe(1);
  });

  it('sandbox: the agent chowns the sets to the service user and writes its directories', () => {
    for (const c of CERTS) {
      const owner = c.owner ?? 'root';
      expect(ct.sh(`stat -L -c '%U:%G %a' ${c.dir}/key.pem`).trim()).toBe(`${owner}:${owner} 600`);
      expect(ct.sh(`stat -L -c '%U:%G' ${c.dir}/cert.pem`).trim()).toBe(`${owner}:${owner}`);
    }
    expect(ct.sh('stat -c %a /var/lib/vault-pki-agent').trim()).toBe('700');
    expect(ct.exec(['test', '-s', '/var/lib/vault-pki-agent/state.json']).code).toBe(0);
  });

  it('sandbox: a certificate directory outside ReadWritePaths is refused by systemd, not by luck', async () => {
    const outside: Cert = { name: 'outside', preset: 'etcd-peer', dir: '/etc/outside-pki/peer' };
    put(CONFIG, configYaml([...CERTS, outside]), 0o600);
    try {
      const r = ct.systemctl('restart', 'vault-pki-agent.service');
      expect(r.code).not.toBe(0);
      expect(ct.show('vault-pki-agent.service', 'ExecMainStatus')).toBe('6');
      const messages = await lastRunJournal('vault-pki-agent.service');
      expect(messages).toMatch(
        /msg="certificate failed" certificate=outside error="cannot create \/etc\/outside-pki/,
      );
      expect(ct.exec(['test', '-e', '/etc/outside-pki']).code).not.toBe(0);
      // The same command outside the unit's sandbox writes there: it is the unit that stops it.
      const free = ct.exec(
        [
          'systemd-run',
          '--wait',
          '--pipe',
          '--quiet',
          '/usr/local/bin/vault-pki-agent',
          'bootstrap',
          '--only',
          'outside',
          '--config',
          CONFIG,
        ],
        { timeoutMs: 120_000 },
      );
      expect(free.code, free.stderr).toBe(0);
      expect(ct.exec(['test', '-s', '/etc/outside-pki/peer/cert.pem']).code).toBe(0);
    } finally {
      put(CONFIG, configYaml(CERTS), 0o600);
      ct.exec(['rm', '-rf', '/etc/outside-pki']);
    }
    const again = ct.systemctl('restart', 'vault-pki-agent.service');
    expect(again.code, again.stderr).toBe(0);
  });

  it('sandbox: every certificate directory the templates name is writable, also where its parents do not exist yet', async () => {
    // From the templates' agent configs, not a list kept here: a new directory there is checked here.
    const dirs = [
      ...new Set(
        TEMPLATES.flatMap((t) =>
          [...readFileSync(join(CFN_DIR, t), 'utf8').matchAll(/files: \{ dir: (\/[^\s,}]+)/g)].map(
            (m) => m[1] as string,
          ),
        ),
      ),
    ].sort();
    expect(dirs.length).toBeGreaterThan(10);
    const fresh = dirs
      .filter((dir) => !current.some((c) => c.dir === dir))
      .map((dir, i) => ({ name: `template-dir-${i}`, preset: 'etcd-peer', dir }));
    // A fresh node: neither /etc/kubernetes nor /etc/etcd-overlay exists (the units' earlier runs made them).
    ct.sh('rm -rf /etc/kubernetes /etc/etcd-overlay');
    put(CONFIG, configYaml([...current, ...fresh]), 0o600);
    try {
      const r = ct.systemctl('restart', 'vault-pki-agent.service');
      const failures = (await lastRunJournal('vault-pki-agent.service'))
        .split('\n')
        .filter((l) => /certificate failed|bootstrap finished/.test(l));
      expect(r.code, failures.join('\n')).toBe(0);
      for (const d of dirs) expect(ct.exec(['test', '-s', `${d}/cert.pem`]).code, d).toBe(0);
      // Directories that existed keep their mode (the image made /etc/etcd 0750).
      expect(ct.sh('stat -c %a /etc/etcd').trim()).toBe('750');
    } finally {
      put(CONFIG, configYaml(current), 0o600);
      ct.exec(['rm', '-rf', '/etc/kubernetes', '/etc/etcd-overlay', ...fresh.map((c) => c.dir)]);
    }
  });

  it('renew timer: ExecCondition= skips the run when nothing is due (inactive, not failed)', () => {
    expect(ct.show('vault-pki-agent-renew.timer', 'ActiveState')).toBe('active');
    expect(ct.show('vault-pki-agent-renew.timer', 'Triggers')).toBe('vault-pki-agent-renew.service');
    const before = { etcd: starts('etcd'), kubelet: starts('kubelet') };
    const r = ct.systemctl('start', 'vault-pki-agent-renew.service');
    expect(r.code, r.stderr).toBe(0);
    expect(
      ct.show('vault-pki-agent-renew.service', 'Result'),
      journalText('vault-pki-agent-renew.service'),
    ).toBe('exec-condition');
    expect(ct.show('vault-pki-agent-renew.service', 'ActiveState')).toBe('inactive');
    expect(
      agentJournal('vault-pki-agent-renew.service')
        .map((e) => e.MESSAGE)
        .join('\n'),
    ).not.toMatch(/certificate written/);
    expect({ etcd: starts('etcd'), kubelet: starts('kubelet') }).toEqual(before);
  });

  it('renew timer: runs when something is due, and restarts each consuming unit exactly once', () => {
    const before = { etcd: starts('etcd'), kubelet: starts('kubelet') };
    // Both etcd sets change (a new SAN); both feed etcd.service, which must be restarted once, after both.
    const renewed = CERTS.map((c) => (c.unit === 'etcd.service' ? { ...c, altNames: [RENEWED_SAN] } : c));
    put(CONFIG, configYaml(renewed), 0o600);
    current = renewed;
    const r = ct.systemctl('start', 'vault-pki-agent-renew.service');
    expect(r.code, r.stderr).toBe(0);
    expect(ct.show('vault-pki-agent-renew.service', 'Result')).toBe('success');
    expect(ct.show('vault-pki-agent-renew.service', 'ExecMainStatus')).toBe('0');
    for (const c of CERTS.filter((x) => x.unit === 'etcd.service'))
      expect(certOf(c.dir).subjectAltName).toContain(RENEWED_SAN);
    expect(ct.show('etcd.service', 'ActiveState')).toBe('active');
    expect({ etcd: starts('etcd'), kubelet: starts('kubelet') }).toEqual({
      etcd: before.etcd + 1,
      kubelet: before.kubelet,
    });
    // Nothing due any more: the next timer run is skipped again.
    ct.systemctl('start', 'vault-pki-agent-renew.service');
    expect(ct.show('vault-pki-agent-renew.service', 'Result')).toBe('exec-condition');
  });

  it('run daemon: `systemctl stop` in the middle of a renewal waits for the write and exits 0', async () => {
    // The daemon reads its config at start: it talks to Vault through the proxy from the beginning.
    put(CONFIG, configYaml(current, proxy.address), 0o600);
    const kubeletStarts = starts('kubelet');
    const oldSerial = certOf('/var/lib/kubelet/pki/client').serialNumber;
    try {
      const started = await ct.execAsync(['systemctl', 'start', 'vault-pki-agent-run.service']);
      expect(started.code, started.stderr).toBe(0);
      expect(ct.show('vault-pki-agent-run.service', 'ActiveState')).toBe('active');
      // The first pass is over when its summary (stdout, in the journal too) is out.
      await waitUntil(
        () => /kubelet-client\s+up-to-date/.test(journalText('vault-pki-agent-run.service')),
        60_000,
      );
      // The kubelet's set goes missing; the daemon sees it at its next check, which SIGHUP (reload) makes now.
      proxy.inject(/\/sign\/kubelet-client$/, { kind: 'hold' });
      ct.sh('rm -rf /var/lib/kubelet/pki/client');
      expect(ct.systemctl('reload', 'vault-pki-agent-run.service').code).toBe(0);
      await proxy.waitForHeld(1, 60_000);
      const stopping = ct.execAsync(['systemctl', 'stop', 'vault-pki-agent-run.service']);
      await sleep(1000);
      expect(ct.show('vault-pki-agent-run.service', 'ActiveState')).toBe('deactivating');
      proxy.release();
      const stopped = await stopping;
      expect(stopped.code, stopped.stderr).toBe(0);
    } finally {
      proxy.release();
      proxy.clear();
      put(CONFIG, configYaml(current), 0o600);
    }
    await waitUntil(
      () => /stopping: the pass in progress finished/.test(journalText('vault-pki-agent-run.service')),
      30_000,
    );
    const journal = journalText('vault-pki-agent-run.service');
    expect(ct.show('vault-pki-agent-run.service', 'Result'), journal).toBe('success');
    expect(ct.show('vault-pki-agent-run.service', 'ExecMainStatus')).toBe('0');
    expect(certOf('/var/lib/kubelet/pki/client').serialNumber).not.toBe(oldSerial);
    expect(journal).toMatch(/msg="certificate written" certificate=kubelet-client/);
    expect(journal).toMatch(/stopping: the pass in progress finished/);
    expect(starts('kubelet')).toBe(kubeletStarts + 1);
  }, 240_000);

  it("logs: the agent's lines reach the journal under its unit and identifier, with its fields, never the token", () => {
    const entries = agentJournal('vault-pki-agent.service');
    const written = entries.filter((e) => /msg="?certificate written/.test(e.MESSAGE ?? ''));
    expect(written.length).toBeGreaterThan(0);
    for (const e of written) {
      expect(e.SYSLOG_IDENTIFIER).toBe('vault-pki-agent');
      expect(e._SYSTEMD_UNIT).toBe('vault-pki-agent.service');
      expect(e.MESSAGE).toMatch(
        /^time=\S+ level=info msg="certificate written" .*certificate=\S+ .*serial=\S+/,
      );
    }
    const names = new Set(written.map((e) => /certificate=(\S+)/.exec(e.MESSAGE ?? '')?.[1]));
    for (const c of CERTS) expect(names).toContain(c.name);
    const all = ct.exec(['journalctl', '-b', '-o', 'export', '--no-pager']).stdout;
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain(token);
  });
});
