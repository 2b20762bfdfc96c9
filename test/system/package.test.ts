/**
 * The Debian package (scripts/package-deb) on a Debian 12 host without Node.js: a container booted with
 * systemd as PID 1 (test/support/nspawn.ts) from the minimal root, which has no `node` at all. Installed with
 * dpkg, run through its units against this file's OpenBao on the host's 127.0.0.1, upgraded to a newer version,
 * removed and purged. lintian checks the package (its overrides carry the reasons).
 *
 * The packages are built here from this checkout (the single-executable blob, then package-deb with fast
 * compression: the release uses xz).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Container, createContainer, nspawnUnavailable } from '../support/nspawn.js';
import { REPO_ROOT, startOpenBao, type TestVault } from '../support/openbao.js';
import { createToken, provisionTestPki, writePolicy } from '../support/vault-pki.js';

const SKIP = nspawnUnavailable();
const UPGRADE_VERSION = '0.1.0+test.1';
// install-test-tools installs it (root with apt).
const NO_LINTIAN = spawnSync('sh', ['-c', 'command -v lintian']).status !== 0;

let vault: TestVault;
let ct: Container;
let work: string;
let debs: { first: string; upgrade: string };

function buildPackages(): typeof debs {
  const seaDir = join(work, 'sea');
  execFileSync(process.execPath, ['scripts/build.mjs', '--sea-only'], {
    cwd: REPO_ROOT,
    env: { ...process.env, VPA_SEA_DIR: seaDir },
    stdio: 'pipe',
  });
  const pack = (version?: string) => {
    const out = join(work, version ?? 'first');
    const args = ['scripts/package-deb', '--sea-dir', seaDir, '--out', out, '--compress', 'gzip:1'];
    execFileSync('bash', version ? [...args, '--version', version] : args, {
      cwd: REPO_ROOT,
      env: { ...process.env, VPA_NODE: process.execPath },
      stdio: 'pipe',
    });
    return join(out, readdirSync(out).find((f) => f.endsWith('.deb')) as string);
  };
  return { first: pack(), upgrade: pack(UPGRADE_VERSION) };
}

const enabled = (unit: string) => ct.exec(['systemctl', 'is-enabled', unit]).stdout.trim();

describe.skipIf(SKIP !== undefined)(`the Debian package${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'vpa-deb-'));
    debs = buildPackages();
    vault = await startOpenBao({ name: 'system-package' });
    const pki = await provisionTestPki(vault, 'c1');
    await writePolicy(vault, 'node', [`${pki.etcdMount}/member`]);
    const token = await createToken(vault, { policies: ['node'], period: '24h' });
    ct = await createContainer({ name: 'package' });
    for (const deb of [debs.first, debs.upgrade]) {
      mkdirSync(join(ct.root, 'root/debs'), { recursive: true });
      copyFileSync(deb, join(ct.root, 'root/debs', deb.split('/').pop() as string));
    }
    // The operator's files (cloud-init writes them on an instance).
    mkdirSync(join(ct.root, 'etc/vault-pki-agent'), { recursive: true, mode: 0o700 });
    writeFileSync(join(ct.root, 'etc/vault-pki-agent/token'), `${token}\n`, { mode: 0o600 });
    writeFileSync(
      join(ct.root, 'etc/vault-pki-agent/config.yaml'),
      [
        'cluster: c1',
        'vault:',
        `  address: ${vault.address}`,
        '  tokenFile: /etc/vault-pki-agent/token',
        'stateDir: /var/lib/vault-pki-agent',
        'node: { name: node-1, ip: 10.0.0.10 }',
        'certificates:',
        '  etcd-peer:',
        '    preset: etcd-peer',
        '    files: { dir: /etc/etcd/pki/peer }',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    await ct.boot();
  }, 300_000);

  afterAll(async () => {
    await ct?.stop();
    await vault?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it.skipIf(NO_LINTIAN)(
    'lintian: no error and no warning beyond the overrides shipped with their reasons',
    () => {
      const lintian = spawnSync('lintian', ['--tag-display-limit', '0', debs.first], { encoding: 'utf8' });
      const tags = lintian.stdout.split('\n').filter((l) => /^[EW]: /.test(l));
      expect(tags).toEqual([]);
      expect(lintian.status, lintian.stderr).toBe(0);
    },
    180_000,
  );

  it('install on a host without Node.js: the executable runs, the boot unit and the timer are enabled, nothing starts', () => {
    expect(ct.exec(['sh', '-c', 'command -v node nodejs']).code).not.toBe(0);
    const r = ct.exec(['dpkg', '-i', `/root/debs/${debs.first.split('/').pop()}`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(ct.sh('vault-pki-agent --version')).toMatch(/^vault-pki-agent 0\.1\.0 .*node 20\./);
    expect(enabled('vault-pki-agent.service')).toBe('enabled');
    expect(enabled('vault-pki-agent-renew.timer')).toBe('enabled');
    expect(enabled('vault-pki-agent-run.service')).toBe('disabled');
    for (const unit of [
      'vault-pki-agent.service',
      'vault-pki-agent-renew.timer',
      'vault-pki-agent-run.service',
    ])
      expect(ct.show(unit, 'ActiveState'), unit).toBe('inactive');
    // The units call the packaged executable; the drop-ins order the components after the boot unit.
    expect(ct.show('vault-pki-agent.service', 'ExecStart')).toContain('path=/usr/bin/vault-pki-agent');
    expect(ct.sh('cat /lib/systemd/system/kubelet.service.d/10-vault-pki-agent.conf')).toMatch(
      /After=vault-pki-agent\.service/,
    );
  });

  it('bootstrap from the package, through its unit', () => {
    const r = ct.systemctl('start', 'vault-pki-agent.service');
    expect(r.code, r.stderr).toBe(0);
    expect(ct.show('vault-pki-agent.service', 'Result')).toBe('success');
    expect(ct.exec(['test', '-s', '/etc/etcd/pki/peer/cert.pem']).code).toBe(0);
    expect(ct.exec(['test', '-s', '/var/lib/vault-pki-agent/state.json']).code).toBe(0);
  });

  it("upgrade: config, token and state kept, the admin's unit choices kept, a running daemon restarted onto it", () => {
    // The admin's choices: the daemon instead of the timer.
    ct.sh(
      'systemctl disable --now vault-pki-agent-renew.timer && systemctl enable --now vault-pki-agent-run.service',
    );
    const before = {
      files: ct.sh(
        'sha256sum /etc/vault-pki-agent/config.yaml /etc/vault-pki-agent/token /etc/etcd/pki/peer/cert.pem',
      ),
      pid: ct.show('vault-pki-agent-run.service', 'MainPID'),
    };
    expect(Number(before.pid)).toBeGreaterThan(0);
    const r = ct.exec(['dpkg', '-i', `/root/debs/${debs.upgrade.split('/').pop()}`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(ct.sh('dpkg-query -W vault-pki-agent').trim()).toBe(`vault-pki-agent\t${UPGRADE_VERSION}`);
    expect(
      ct.sh(
        'sha256sum /etc/vault-pki-agent/config.yaml /etc/vault-pki-agent/token /etc/etcd/pki/peer/cert.pem',
      ),
    ).toBe(before.files);
    expect(ct.exec(['test', '-s', '/var/lib/vault-pki-agent/state.json']).code).toBe(0);
    expect(enabled('vault-pki-agent.service')).toBe('enabled');
    expect(enabled('vault-pki-agent-renew.timer')).toBe('disabled');
    expect(enabled('vault-pki-agent-run.service')).toBe('enabled');
    expect(ct.show('vault-pki-agent-run.service', 'ActiveState')).toBe('active');
    expect(ct.show('vault-pki-agent-run.service', 'MainPID')).not.toBe(before.pid);
  });

  it('remove: units stopped, executable gone, config and state kept; purge: state gone, config still kept', () => {
    const removed = ct.exec(['dpkg', '-r', 'vault-pki-agent']);
    expect(removed.code, removed.stdout + removed.stderr).toBe(0);
    expect(ct.show('vault-pki-agent-run.service', 'ActiveState')).toBe('inactive');
    expect(ct.show('vault-pki-agent-run.service', 'ExecMainStatus')).toBe('0');
    expect(ct.exec(['test', '-e', '/usr/bin/vault-pki-agent']).code).not.toBe(0);
    expect(ct.exec(['test', '-e', '/lib/systemd/system/vault-pki-agent.service']).code).not.toBe(0);
    expect(ct.exec(['test', '-s', '/etc/vault-pki-agent/config.yaml']).code).toBe(0);
    expect(ct.exec(['test', '-s', '/var/lib/vault-pki-agent/state.json']).code).toBe(0);
    const purged = ct.exec(['dpkg', '-P', 'vault-pki-agent']);
    expect(purged.code, purged.stdout + purged.stderr).toBe(0);
    expect(ct.exec(['test', '-e', '/var/lib/vault-pki-agent']).code).not.toBe(0);
    expect(ct.exec(['test', '-s', '/etc/vault-pki-agent/config.yaml']).code).toBe(0);
    expect(ct.exec(['test', '-s', '/etc/vault-pki-agent/token']).code).toBe(0);
    // Nothing of the package is left in systemd's view (no dangling enablement links or masks).
    expect(ct.exec(['sh', '-c', 'find /etc/systemd/system -name "vault-pki-agent*"']).stdout.trim()).toBe('');
  });
});
