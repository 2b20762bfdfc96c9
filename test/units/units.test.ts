/**
 * The shipped systemd units, checked by systemd itself: `systemd-analyze verify` (and `security
 * --offline`) against a temporary root that holds the distribution's own units, our units, stand-in
 * components with our drop-ins, and stand-in executables at the paths the units name (verify only
 * checks that they exist and are executable). Warnings count as failures: verify exits 0 on an
 * unknown key or a bad value, it only prints them.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const UNITS = resolve(import.meta.dirname, '../../units');
const COMPONENTS = ['etcd', 'etcd-member', 'kube-apiserver', 'kubelet'] as const;
const UNIT_FILES = readdirSync(UNITS).filter((f) => /\.(service|timer)$/.test(f));
/** The Kubernetes components wired to the agent's files (units/kubernetes/, installed by node-boot). */
const KUBE_UNITS = readdirSync(join(UNITS, 'kubernetes')).filter((f) => f.endsWith('.service'));
const SERVICES = UNIT_FILES.filter((f) => f.endsWith('.service'));
/** The agent's own services (one sandbox); the others are components the agent's output feeds. */
const AGENT_SERVICES = SERVICES.filter((f) => f.startsWith('vault-pki-agent'));

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const SKIP = analyze.error ? `systemd-analyze unavailable (${analyze.error.message})` : undefined;
const SYSTEM_UNITS = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) =>
  existsSync(join(d, 'sysinit.target')),
);

function run(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** A temporary root: the distro's units, ours, stand-in components with our drop-ins. */
function makeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'vpa-units-'));
  cpSync(SYSTEM_UNITS!, join(root, 'usr/lib/systemd/system'), { recursive: true });
  // Stand-ins for the executables the units name; verify only checks they are executable.
  for (const exe of [
    'usr/local/bin/vault-pki-agent',
    'bin/kill',
    'usr/local/bin/component-stand-in',
    'usr/bin/etcd',
    ...KUBE_UNITS.map((f) => `usr/bin/${f.replace('.service', '')}`),
  ]) {
    mkdirSync(join(root, exe, '..'), { recursive: true });
    writeFileSync(join(root, exe), '#!/bin/sh\nexit 0\n');
    chmodSync(join(root, exe), 0o755);
  }
  const etc = join(root, 'etc/systemd/system');
  mkdirSync(etc, { recursive: true });
  for (const f of UNIT_FILES) cpSync(join(UNITS, f), join(etc, f));
  for (const c of COMPONENTS) {
    writeFileSync(
      join(etc, `${c}.service`),
      `[Unit]\nDescription=stand-in ${c}\n[Service]\nExecStart=/usr/local/bin/component-stand-in\n`,
    );
    cpSync(join(UNITS, 'dropins', `${c}.service.d`), join(etc, `${c}.service.d`), { recursive: true });
  }
  return root;
}

function verify(root: string, ...units: string[]) {
  return run(['verify', `--root=${root}`, '--man=no', ...units]);
}

/** Sections of a unit file as key -> values (keys may repeat; space-separated lists are split). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const sections: Record<string, Record<string, string[]>> = {};
  let current: Record<string, string[]> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = {};
      sections[header[1]!] = current;
      continue;
    }
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    current[key] = [...(current[key] ?? []), value];
  }
  return sections;
}

const unit = (file: string) => parseUnit(readFileSync(join(UNITS, file), 'utf8'));
const words = (values: string[] | undefined) => (values ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);
const seconds = (v: string) => {
  const m = /^(\d+)(min|s)?$/.exec(v);
  if (!m) throw new Error(`cannot read duration ${v}`);
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
};

describe.skipIf(SKIP !== undefined || SYSTEM_UNITS === undefined)(
  `systemd-analyze verify${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    let root: string;
    beforeAll(() => {
      root = makeRoot();
    });
    afterAll(() => {
      rmSync(root, { recursive: true, force: true });
    });

    it('ships the units the SPEC names', () => {
      expect(UNIT_FILES.sort()).toEqual([
        'etcd-grpc-proxy.service',
        'vault-pki-agent-renew.service',
        'vault-pki-agent-renew.timer',
        'vault-pki-agent-run.service',
        'vault-pki-agent.service',
      ]);
    });

    it.each(UNIT_FILES)('%s verifies without a single warning', (file) => {
      expect(verify(root, file)).toEqual({ status: 0, output: '' });
    });

    it.each(COMPONENTS)('%s.service with our drop-in verifies without a warning', (c) => {
      expect(verify(root, `${c}.service`)).toEqual({ status: 0, output: '' });
    });

    it('ships the Kubernetes component units', () => {
      expect(KUBE_UNITS.sort()).toEqual([
        'kube-apiserver.service',
        'kube-controller-manager.service',
        'kube-scheduler.service',
        'kubelet.service',
      ]);
    });

    it.each(KUBE_UNITS)(
      'kubernetes/%s, in place of the stand-in and with our drop-in, verifies without a warning',
      (file) => {
        const etc = join(root, 'etc/systemd/system');
        const standIn = existsSync(join(etc, file)) ? readFileSync(join(etc, file), 'utf8') : undefined;
        cpSync(join(UNITS, 'kubernetes', file), join(etc, file));
        try {
          expect(verify(root, file)).toEqual({ status: 0, output: '' });
        } finally {
          if (standIn === undefined) rmSync(join(etc, file));
          else writeFileSync(join(etc, file), standIn);
        }
      },
    );

    it.each(SERVICES)('%s keeps its sandbox (systemd-analyze security: exposure at most 3.0)', (file) => {
      const r = run(['security', '--offline=yes', `--root=${root}`, file]);
      const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.output);
      expect(m, r.output.slice(-300)).not.toBeNull();
      expect(Number(m![1])).toBeLessThanOrEqual(3.0);
    });

    describe('the check can fail', () => {
      let bad: string;
      beforeAll(() => {
        bad = makeRoot();
      });
      afterAll(() => {
        rmSync(bad, { recursive: true, force: true });
      });
      const etc = () => join(bad, 'etc/systemd/system');
      const mutate = (file: string, from: string | RegExp, to: string) => {
        const path = join(etc(), file);
        const text = readFileSync(path, 'utf8');
        const changed = text.replace(from, to);
        expect(changed).not.toBe(text);
        writeFileSync(path, changed);
      };

      it('a misspelt directive (verify exits 0 but warns)', () => {
        mutate('vault-pki-agent.service', 'RemainAfterExit=yes', 'RemainAfterExt=yes');
        const r = verify(bad, 'vault-pki-agent.service');
        expect(r.output).toMatch(/Unknown key 'RemainAfterExt'/);
      });

      it('a bad value', () => {
        mutate('vault-pki-agent-renew.timer', 'OnCalendar=hourly', 'OnCalendar=every hour');
        const r = verify(bad, 'vault-pki-agent-renew.timer');
        expect(r.output).toMatch(/Failed to parse calendar specification, ignoring: every hour/);
        expect(r.status).not.toBe(0);
      });

      it('a missing executable', () => {
        rmSync(join(bad, 'usr/local/bin/vault-pki-agent'));
        const r = verify(bad, 'vault-pki-agent-run.service');
        expect(r.status).not.toBe(0);
        expect(r.output).toMatch(/vault-pki-agent is not executable/);
      });

      it('a broken drop-in is read for its component (so the good one is too)', () => {
        writeFileSync(
          join(etc(), 'kubelet.service.d/10-vault-pki-agent.conf'),
          '[Unit]\nWants=vault-pki-agent.service\nAftr=vault-pki-agent.service\n',
        );
        expect(verify(bad, 'kubelet.service').output).toMatch(
          /kubelet\.service\.d\/10-vault-pki-agent\.conf:3: Unknown key 'Aftr'/,
        );
      });
    });
  },
);

describe('unit contents', () => {
  it('vault-pki-agent.service: one-shot bootstrap before the components, after network and time', () => {
    const u = unit('vault-pki-agent.service');
    expect(u.Service!.Type).toEqual(['oneshot']);
    expect(u.Service!.RemainAfterExit).toEqual(['yes']);
    expect(u.Service!.ExecStart).toEqual([
      '/usr/local/bin/vault-pki-agent bootstrap --config /etc/vault-pki-agent/config.yaml',
    ]);
    expect(words(u.Unit!.After)).toEqual(
      expect.arrayContaining(['network-online.target', 'time-sync.target']),
    );
    expect(words(u.Unit!.Wants)).toContain('network-online.target');
    expect(words(u.Unit!.Before).sort()).toEqual(COMPONENTS.map((c) => `${c}.service`).sort());
    // Above the agent's 5m Vault deadline, so systemd does not kill it mid-write.
    expect(seconds(u.Service!.TimeoutStartSec![0]!)).toBeGreaterThan(300);
    expect(u.Install!.WantedBy).toEqual(['multi-user.target']);
  });

  it('the renewal units: ExecCondition in systemd terms, never ordered before the components', () => {
    const renew = unit('vault-pki-agent-renew.service');
    expect(renew.Service!.ExecCondition).toEqual([
      '/usr/local/bin/vault-pki-agent check --exec-condition --config /etc/vault-pki-agent/config.yaml',
    ]);
    expect(renew.Service!.ExecStart![0]).toMatch(/ bootstrap /);
    const run = unit('vault-pki-agent-run.service');
    expect(run.Service!.ExecStart![0]).toMatch(/^\/usr\/local\/bin\/vault-pki-agent run /);
    expect(run.Service!.ExecReload).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(run.Service!.Restart).toEqual(['on-failure']);
    for (const u of [renew, run]) {
      // They restart the components; being ordered before them would make those restarts wait forever.
      expect(u.Unit!.Before).toBeUndefined();
      expect(words(u.Unit!.After)).toContain('vault-pki-agent.service');
    }
    const timer = unit('vault-pki-agent-renew.timer');
    expect(timer.Timer!.Unit).toEqual(['vault-pki-agent-renew.service']);
    expect(timer.Timer!.Persistent).toEqual(['yes']);
    expect(timer.Timer!.OnCalendar).toEqual(['hourly']);
    // A stable random minute per host over the whole period keeps a fleet's checks spread.
    expect(timer.Timer!.RandomizedDelaySec).toEqual(['1h']);
    expect(timer.Timer!.FixedRandomDelay).toEqual(['yes']);
  });

  it('the drop-ins order each component after the bootstrap unit only', () => {
    for (const c of COMPONENTS) {
      const text = readFileSync(join(UNITS, 'dropins', `${c}.service.d`, '10-vault-pki-agent.conf'), 'utf8');
      const u = parseUnit(text);
      expect(Object.keys(u)).toEqual(['Unit']);
      expect(u.Unit).toEqual({ Wants: ['vault-pki-agent.service'], After: ['vault-pki-agent.service'] });
    }
  });

  it('etcd-grpc-proxy.service: grpc-proxy on 127.0.0.1 only, upstream TLS from the agent-written set, after the boot run', () => {
    const u = unit('etcd-grpc-proxy.service');
    expect(words(u.Unit!.After)).toContain('vault-pki-agent.service');
    expect(words(u.Unit!.Wants)).toContain('vault-pki-agent.service');
    expect(words(u.Unit!.Before)).toContain('kube-apiserver.service');
    const argv = words(u.Service!.ExecStart);
    expect(argv.slice(0, 3)).toEqual(['/usr/bin/etcd', 'grpc-proxy', 'start']);
    const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
    expect(flag('listen-addr')).toBe('127.0.0.1:23790');
    expect(flag('endpoints')).toBe(`\${ETCD_GRPC_PROXY_ENDPOINTS}`);
    const dir = '/etc/kubernetes/pki/etcd-grpc-proxy';
    expect([flag('cert'), flag('key'), flag('cacert')]).toEqual([
      `${dir}/cert.pem`,
      `${dir}/key.pem`,
      `${dir}/ca.pem`,
    ]);
    // Its own TLS listener flags would demand client certificates the apiserver's localhost dial lacks.
    expect(argv.filter((a) => /^--(cert-file|key-file|trusted-ca-file)=/.test(a))).toEqual([]);
    expect(u.Service!.CapabilityBoundingSet).toEqual(['']);
  });

  it('the three services share one sandbox that still lets the agent write certificates and run systemctl', () => {
    const sandbox = (file: string) => {
      const text = readFileSync(join(UNITS, file), 'utf8');
      return text.slice(text.indexOf('ProtectSystem='), text.indexOf('UMask='));
    };
    const reference = sandbox('vault-pki-agent.service');
    for (const file of AGENT_SERVICES) expect(sandbox(file), file).toBe(reference);
    const s = unit('vault-pki-agent.service').Service!;
    expect(s.ProtectSystem).toEqual(['full']);
    expect(words(s.ReadWritePaths)).toEqual(
      expect.arrayContaining([
        '-/etc/vault-pki-agent',
        '-/etc/etcd',
        '-/etc/kubernetes',
        '-/var/lib/kubelet',
      ]),
    );
    expect(s.StateDirectory).toEqual(['vault-pki-agent']);
    // V8 needs writable+executable memory; systemctl needs AF_UNIX; host addresses need AF_NETLINK.
    expect(s.MemoryDenyWriteExecute).toBeUndefined();
    expect(words(s.RestrictAddressFamilies)).toEqual(expect.arrayContaining(['AF_UNIX', 'AF_NETLINK']));
    expect(words(s.CapabilityBoundingSet)).toEqual(expect.arrayContaining(['CAP_CHOWN', 'CAP_DAC_OVERRIDE']));
    expect(s.PrivateNetwork).toBeUndefined();
  });
});
