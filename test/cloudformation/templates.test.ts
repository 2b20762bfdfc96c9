/**
 * The CloudFormation templates, checked statically: cfn-lint (zero errors, zero warnings), the user
 * data each template renders for sample parameters checked by cloud-init's own schema validator,
 * the token's path through that user data (only into a 0600 file, nowhere else), the boot scripts
 * kept identical across templates, and node-boot's scrub of cloud-init's cached copies of the token.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { NODE_TYPES, type NodeType, PRESETS, type PresetName } from '../../src/config/presets.js';
import { AGENT_BIN } from '../support/agent.js';
import {
  CFN_DIR,
  loadTemplate,
  renderUserData,
  rerootPaths,
  sampleValues,
  TEMPLATES,
  writeFilesOf,
} from '../support/cfn-user-data.js';
// FAKE systemctl: install-agent into a scratch VPA_BOOT_ROOT; under a real systemd: test/system/systemd.test.ts.
import { FAKE_SYSTEMCTL } from '../support/fake-systemctl/index.js';
import { REPO_ROOT } from '../support/openbao.js';

const CFN_LINT = join(REPO_ROOT, '.cache', 'tools', 'bin', 'cfn-lint');
const CLOUD_INIT = ['/usr/bin/cloud-init', '/usr/local/bin/cloud-init'].find((p) => existsSync(p));
const TOKEN = 's.RotationSampleToken9f3Kq2Zx';
const scratch = mkdtempSync(join(tmpdir(), 'vpa-cfn-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function renderAll(overrides: Record<string, string> = {}) {
  return TEMPLATES.flatMap((file) =>
    renderUserData(file, sampleValues({ VaultToken: TOKEN, ...overrides })).map((r) => ({ file, ...r })),
  );
}

function occurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

const UNITS_DIR = join(REPO_ROOT, 'units');

/** A shipped unit's text and its ExecStart flags (`--name=value`), continuation lines joined. */
function unitExec(unit: string): { text: string; flags: Map<string, string> } {
  const text = readFileSync(join(UNITS_DIR, unit), 'utf8');
  const exec = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(text)?.[1] ?? '';
  const flags = new Map<string, string>();
  for (const word of exec.replace(/\\\n/g, ' ').split(/\s+/)) {
    const m = /^(--[a-z0-9-]+)=(.*)$/.exec(word);
    if (m) flags.set(m[1] as string, m[2] as string);
  }
  return { text, flags };
}

/** The node-local files a unit's flags name (the agent's and the user data's directories). */
function namedPaths(flags: Map<string, string>): string[] {
  return [...flags.values()].filter((v) => /^\/(etc\/kubernetes|var\/lib\/kubelet)\//.test(v));
}

/** Absolute paths among the string values of a parsed YAML document. */
function pathsIn(value: unknown): string[] {
  if (typeof value === 'string') return /^\/(etc|var)\//.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(pathsIn);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(pathsIn);
  return [];
}

/** What a node writes at boot: the agent config's sets (default file names), kubeconfigs and key pair, and write_files. */
function writtenFiles(cloudConfig: string): Set<string> {
  const files = writeFilesOf(cloudConfig);
  const config = parse(files.find((f) => f.path === '/etc/vault-pki-agent/config.yaml')?.content ?? '{}') as {
    certificates?: Record<string, { files?: { dir?: string } }>;
    kubeconfigs?: { path: string; certificate: string }[];
    serviceAccountKey?: { key: string; publicKeys: string };
  };
  const written = new Set(files.map((f) => f.path));
  for (const set of Object.values(config.certificates ?? {})) {
    for (const name of ['cert.pem', 'key.pem', 'ca.pem', 'fullchain.pem'])
      written.add(`${set.files?.dir}/${name}`);
  }
  for (const k of config.kubeconfigs ?? []) {
    // A kubeconfig is only written when the set it names exists.
    if (config.certificates?.[k.certificate]) written.add(k.path);
  }
  if (config.serviceAccountKey) {
    written.add(config.serviceAccountKey.key);
    written.add(config.serviceAccountKey.publicKeys);
  }
  return written;
}

describe.skipIf(!existsSync(CFN_LINT))(
  `cfn-lint${existsSync(CFN_LINT) ? '' : ' (skipped: run scripts/install-test-tools)'}`,
  () => {
    it('reports zero errors and zero warnings on every template', () => {
      const r = spawnSync(CFN_LINT, ['--format', 'parseable', ...TEMPLATES.map((t) => join(CFN_DIR, t))], {
        encoding: 'utf8',
      });
      expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
      expect(r.status).toBe(0);
    });

    it('does flag a warning (the check can fail): an unused parameter', () => {
      const text = readFileSync(join(CFN_DIR, 'workers.yaml'), 'utf8').replace(
        'Parameters:\n',
        'Parameters:\n  Unused:\n    Type: String\n',
      );
      const file = join(scratch, 'unused-parameter.yaml');
      writeFileSync(file, text);
      const r = spawnSync(CFN_LINT, ['--format', 'parseable', file], { encoding: 'utf8' });
      expect(r.stdout).toMatch(/W2001/);
      expect(r.status).not.toBe(0);
    });
  },
);

describe('rendered user data', () => {
  const rendered = renderAll();

  it('one launch template per etcd member, one each for the control plane and the workers', () => {
    expect(rendered.map((r) => `${r.file}:${r.resource}`)).toEqual([
      'etcd.yaml:Member1LaunchTemplate',
      'etcd.yaml:Member2LaunchTemplate',
      'etcd.yaml:Member3LaunchTemplate',
      'control-plane.yaml:LaunchTemplate',
      'workers.yaml:LaunchTemplate',
    ]);
    for (const r of rendered) {
      expect(r.text.startsWith('#cloud-config\n'), r.resource).toBe(true);
      // EC2 refuses user data over 16 KB (before base64).
      expect(Buffer.byteLength(r.text), r.resource).toBeLessThan(16 * 1024);
    }
  });

  it.skipIf(!CLOUD_INIT)(
    `passes \`cloud-init schema\`${CLOUD_INIT ? '' : ' (skipped: Debian package cloud-init not installed)'}`,
    () => {
      for (const r of rendered) {
        const file = join(scratch, `${r.file}-${r.resource}.yaml`);
        writeFileSync(file, r.text);
        const out = spawnSync(CLOUD_INIT as string, ['schema', '--config-file', file], { encoding: 'utf8' });
        expect(`${out.stdout}${out.stderr}`, r.resource).toMatch(/^Valid cloud-config/m);
        expect(out.status, r.resource).toBe(0);
      }
      // The validator does catch mistakes: a numeric mode is rejected.
      const bad = join(scratch, 'bad.yaml');
      writeFileSync(bad, (rendered[0]?.text ?? '').replace('permissions: "0600"', 'permissions: 0600'));
      const out = spawnSync(CLOUD_INIT as string, ['schema', '--config-file', bad], { encoding: 'utf8' });
      expect(out.status).not.toBe(0);
      expect(`${out.stdout}${out.stderr}`).toMatch(/permissions/);
    },
  );

  it('writes the token only into /etc/vault-pki-agent/token (0600 root) inside a directory made 0700 first', () => {
    for (const r of rendered) {
      const doc = parse(r.text) as { bootcmd: string[][]; runcmd: string[][] };
      const files = writeFilesOf(r.text);
      const token = files.find((f) => f.path === '/etc/vault-pki-agent/token');
      expect(token, r.resource).toMatchObject({
        permissions: '0600',
        owner: 'root:root',
        content: `${TOKEN}\n`,
      });
      expect(token?.encoding).toBeUndefined();
      // The token appears exactly once in the whole user data: that file's content.
      expect(occurrences(r.text, TOKEN), r.resource).toBe(1);
      for (const f of files.filter((f) => f.path !== token?.path)) expect(f.content).not.toContain(TOKEN);
      // bootcmd runs before write_files; cloud-init creates a file first and chmods it after.
      expect(doc.bootcmd).toContainEqual([
        'install',
        '-d',
        '-m',
        '0700',
        '-o',
        'root',
        '-g',
        'root',
        '/etc/vault-pki-agent',
      ]);
      // No command prints files or runs with tracing.
      expect(JSON.stringify(doc.runcmd)).not.toMatch(/token|cat |set -x|echo/);
      expect(files.find((f) => f.path === '/etc/vault-pki-agent/config.yaml')?.permissions).toBe('0600');
    }
  });

  it('VaultToken is NoEcho, constrained to token characters and used only in the user data', () => {
    for (const file of TEMPLATES) {
      const t = loadTemplate(file);
      expect(t.Parameters.VaultToken?.NoEcho, file).toBe(true);
      expect(t.Parameters.VaultToken?.AllowedPattern).toBe('^[A-Za-z0-9._-]+$');
      const text = readFileSync(join(CFN_DIR, file), 'utf8');
      const launchTemplates = Object.values(t.Resources).filter((r) => r.Type === 'AWS::EC2::LaunchTemplate');
      expect(occurrences(text, `\${VaultToken}`), file).toBe(launchTemplates.length);
      // Nothing but the user data refers to it (no output, tag, or other property).
      for (const lt of launchTemplates)
        delete (lt.Properties?.LaunchTemplateData as Record<string, unknown> | undefined)?.UserData;
      const rest = JSON.stringify({ Resources: t.Resources, Outputs: t.Outputs ?? {} });
      expect(rest, file).not.toMatch(/\$\{VaultToken\}|"Ref":"VaultToken"/);
    }
  });

  it('every launch template: IMDSv2 only, hop limit 1, encrypted root volume', () => {
    for (const file of TEMPLATES) {
      for (const r of Object.values(loadTemplate(file).Resources)) {
        if (r.Type !== 'AWS::EC2::LaunchTemplate') continue;
        const data = r.Properties?.LaunchTemplateData as Record<string, unknown>;
        expect(data.MetadataOptions).toEqual({
          HttpEndpoint: 'enabled',
          HttpTokens: 'required',
          HttpPutResponseHopLimit: 1,
        });
        expect(JSON.stringify(data.BlockDeviceMappings)).toContain('"Encrypted":true');
      }
    }
  });

  it('auto scaling groups: rolling replacement gated on signals, and a creation policy', () => {
    for (const file of TEMPLATES) {
      const t = loadTemplate(file);
      const groups = Object.entries(t.Resources).filter(
        ([, r]) => r.Type === 'AWS::AutoScaling::AutoScalingGroup',
      );
      expect(groups.length, file).toBeGreaterThan(0);
      for (const [name, g] of groups) {
        const rolling = (g.UpdatePolicy as Record<string, Record<string, unknown>>).AutoScalingRollingUpdate;
        expect(rolling, name).toMatchObject({ MaxBatchSize: 1, WaitOnResourceSignals: true });
        expect((g.CreationPolicy as Record<string, unknown>).ResourceSignal, name).toBeDefined();
        // The signal names this group, so it must be the resource the user data signals.
        const lt = (g.Properties?.LaunchTemplate as { LaunchTemplateId: { Ref: string } } | undefined)
          ?.LaunchTemplateId.Ref;
        const ud = renderUserData(file, sampleValues()).find((r) => r.resource === lt);
        expect(writeFilesOf(ud?.text ?? '').find((f) => f.path.endsWith('node-boot.env'))?.content).toContain(
          `CFN_RESOURCE=${name}\n`,
        );
      }
    }
    // etcd members are replaced one after another.
    const etcd = loadTemplate('etcd.yaml').Resources;
    expect(etcd.Member2Group?.DependsOn).toBe('Member1Group');
    expect(etcd.Member3Group?.DependsOn).toBe('Member2Group');
  });

  it('the boot scripts are the same in every template (one copy to review)', () => {
    const script = (r: (typeof rendered)[number], path: string) =>
      writeFilesOf(r.text).find((f) => f.path === path)?.content;
    for (const path of [
      '/usr/local/lib/vault-pki-agent/fetch-and-boot',
      '/var/lib/cloud/scripts/per-boot/vault-pki-agent-scrub',
    ]) {
      const copies = new Set(rendered.map((r) => script(r, path)));
      expect(copies.size, path).toBe(1);
      const [only] = [...copies];
      expect(only).toMatch(/^#!/);
      const check = spawnSync('bash', ['-n'], { input: only, encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
    }
    const nodeBoot = spawnSync('bash', ['-n', join(CFN_DIR, 'node-boot.sh')], { encoding: 'utf8' });
    expect(nodeBoot.status, nodeBoot.stderr).toBe(0);
  });

  it("each template asks only for its node type's presets; workers for none of the Kubernetes etcd CA", () => {
    const nodeType: Record<string, NodeType> = {
      'etcd.yaml': 'etcd-member',
      'control-plane.yaml': 'control-plane',
      'workers.yaml': 'worker',
    };
    for (const r of rendered) {
      const config = parse(
        writeFilesOf(r.text).find((f) => f.path === '/etc/vault-pki-agent/config.yaml')?.content ?? '',
      ) as { certificates: Record<string, { preset: PresetName }> };
      const type = nodeType[r.file] as NodeType;
      for (const [name, c] of Object.entries(config.certificates)) {
        expect(NODE_TYPES[type], `${r.resource} ${name}`).toContain(c.preset);
        if (type === 'worker') expect(PRESETS[c.preset].ca, `${r.resource} ${name}`).not.toBe('etcd');
      }
    }
  });

  it('etcd members: the Kubernetes etcd trusts only the etcd CA, the overlay etcd only the overlay CA', () => {
    for (const r of rendered.filter((x) => x.file === 'etcd.yaml')) {
      const files = writeFilesOf(r.text);
      const env = (path: string) =>
        Object.fromEntries(
          (files.find((f) => f.path === path)?.content ?? '')
            .split('\n')
            .filter((l) => /^ETCD_/.test(l))
            .map((l) => l.split('=') as [string, string]),
        );
      for (const [dir, unit] of [
        ['/etc/etcd', 'etcd'],
        ['/etc/etcd-overlay', 'etcd-overlay'],
      ] as const) {
        expect(env(`${dir}/etcd-tls.env`), r.resource).toEqual({
          ETCD_CLIENT_CERT_AUTH: 'true',
          ETCD_TRUSTED_CA_FILE: `${dir}/pki/server/ca.pem`,
          ETCD_CERT_FILE: `${dir}/pki/server/cert.pem`,
          ETCD_KEY_FILE: `${dir}/pki/server/key.pem`,
          ETCD_PEER_CLIENT_CERT_AUTH: 'true',
          ETCD_PEER_TRUSTED_CA_FILE: `${dir}/pki/peer/ca.pem`,
          ETCD_PEER_CERT_FILE: `${dir}/pki/peer/cert.pem`,
          ETCD_PEER_KEY_FILE: `${dir}/pki/peer/key.pem`,
        });
        expect(
          files.find((f) => f.path === `/etc/systemd/system/${unit}.service.d/20-tls.conf`)?.content,
        ).toContain(`EnvironmentFile=${dir}/etcd-tls.env`);
      }
      // The sets those files name come from the matching CA's presets.
      const config = writeFilesOf(r.text).find((f) => f.path === '/etc/vault-pki-agent/config.yaml')?.content;
      expect(config).toMatch(/preset: etcd-server\n.*\n\s+files: \{ dir: \/etc\/etcd\/pki\/server,/);
      expect(config).toMatch(
        /preset: etcd-overlay-server\n.*\n\s+files: \{ dir: \/etc\/etcd-overlay\/pki\/server,/,
      );
    }
  });

  it('control plane: kube-apiserver reaches etcd through the shipped grpc-proxy unit on localhost', () => {
    const proxy = readFileSync(join(UNITS_DIR, 'etcd-grpc-proxy.service'), 'utf8');
    const listen = /--listen-addr=(\S+)/.exec(proxy)?.[1];
    expect(listen).toBe('127.0.0.1:23790');
    const apiserver = unitExec('kubernetes/kube-apiserver.service');
    expect(apiserver.flags.get('--etcd-servers')).toBe(`http://${listen}`);
    expect(apiserver.text).toMatch(/^Wants=.*etcd-grpc-proxy\.service/m);
    expect(apiserver.text).toMatch(/^After=.*etcd-grpc-proxy\.service/m);
    for (const r of rendered.filter((x) => x.file === 'control-plane.yaml')) {
      const files = writeFilesOf(r.text);
      const content = (path: string) => files.find((f) => f.path === path)?.content ?? '';
      expect(content('/etc/etcd-grpc-proxy/endpoints.env')).toContain(
        'ETCD_GRPC_PROXY_ENDPOINTS=https://10.0.1.10:2379,https://10.0.2.10:2379,https://10.0.3.10:2379\n',
      );
    }
  });

  // Each node type's shipped component units (and the kubelet's config file) name only files that the
  // template's agent config or its user data write: a renamed set, kubeconfig or key breaks this test.
  it.each([
    [
      'control-plane.yaml',
      [
        'etcd-grpc-proxy.service',
        'kubernetes/kube-apiserver.service',
        'kubernetes/kube-controller-manager.service',
        'kubernetes/kube-scheduler.service',
      ],
    ],
    ['workers.yaml', ['kubernetes/kubelet.service']],
  ])('%s: every file its component units name is written by the agent or the user data', (file, units) => {
    for (const r of rendered.filter((x) => x.file === file)) {
      const written = writtenFiles(r.text);
      const named = units.flatMap((u) => namedPaths(unitExec(u).flags));
      const kubeletConfig = writeFilesOf(r.text).find(
        (f) => f.path === '/etc/kubernetes/kubelet-config.yaml',
      );
      if (kubeletConfig) named.push(...pathsIn(parse(kubeletConfig.content)));
      expect(named.length, `${file} names no file at all`).toBeGreaterThan(3);
      expect(
        named.filter((p) => !written.has(p)),
        `${file} (${r.resource})`,
      ).toEqual([]);
    }
  });

  it('the wiring check can fail: a unit naming a set the config does not write', () => {
    const r = rendered.find((x) => x.file === 'control-plane.yaml');
    const written = writtenFiles(r?.text ?? '');
    expect(written.has('/etc/kubernetes/pki/apiserver/cert.pem')).toBe(true);
    expect(written.has('/etc/kubernetes/pki/apiserver-renamed/cert.pem')).toBe(false);
    expect(namedPaths(new Map([['--tls-cert-file', '/etc/kubernetes/pki/x/cert.pem']]))).toEqual([
      '/etc/kubernetes/pki/x/cert.pem',
    ]);
  });

  it("control plane: the agent config writes the components' kubeconfigs and the service-account key pair", () => {
    for (const r of rendered.filter((x) => x.file === 'control-plane.yaml')) {
      const text =
        writeFilesOf(r.text).find((f) => f.path === '/etc/vault-pki-agent/config.yaml')?.content ?? '';
      const config = parse(text) as {
        kubeconfigs: { path: string; certificate: string; server: string }[];
        serviceAccountKey: { key: string; publicKeys: string };
      };
      expect(config.kubeconfigs.map((k) => [k.path, k.certificate, k.server])).toEqual([
        ['/etc/kubernetes/controller-manager.conf', 'controller-manager', 'https://127.0.0.1:6443'],
        ['/etc/kubernetes/scheduler.conf', 'scheduler', 'https://127.0.0.1:6443'],
      ]);
      expect(config.serviceAccountKey).toEqual({
        key: '/etc/kubernetes/pki/sa.key',
        publicKeys: '/etc/kubernetes/pki/sa.pub',
      });
    }
  });

  it('each rendered agent config is accepted by the agent (`check`, no Vault calls)', () => {
    for (const r of rendered) {
      const config = writeFilesOf(r.text).find((f) => f.path === '/etc/vault-pki-agent/config.yaml');
      const root = join(scratch, `check-${r.resource}-${r.file}`);
      const file = join(root, 'config.yaml');
      mkdirSync(root, { recursive: true });
      // Point the files somewhere writable; the rest stays as rendered.
      writeFileSync(file, rerootPaths(config?.content ?? '', root));
      const out = spawnSync(process.execPath, [AGENT_BIN, 'check', '--config', file], { encoding: 'utf8' });
      // 10 = certificates due (none exist yet); 3 would be a config error.
      expect(out.status, `${r.resource}: ${out.stderr}`).toBe(10);
    }
  });
});

describe('the release tarball (`npm pack`) holds what fetch-and-boot and node-boot use', () => {
  it('the agent (launcher and program), the units and node-boot.sh', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path);
    for (const path of [
      'dist/vault-pki-agent.cjs',
      'dist/vault-pki-agent-program.cjs',
      'cloudformation/node-boot.sh',
      'units/vault-pki-agent.service',
      'units/vault-pki-agent-renew.service',
      'units/vault-pki-agent-renew.timer',
      'units/dropins/etcd.service.d/10-vault-pki-agent.conf',
    ]) {
      expect(files).toContain(path);
    }
  });
});

describe('node-boot install-agent (the release files on a host)', () => {
  it('installs the launcher, its program and the units; the wrapper runs them with the code cache written beside', () => {
    const root = mkdtempSync(join(scratch, 'install-'));
    const pkg = join(root, 'pkg');
    mkdirSync(join(pkg, 'dist'), { recursive: true });
    for (const f of ['vault-pki-agent.cjs', 'vault-pki-agent-program.cjs'])
      copyFileSync(join(dirname(AGENT_BIN), f), join(pkg, 'dist', f));
    cpSync(join(REPO_ROOT, 'units'), join(pkg, 'units'), { recursive: true });
    const lib = join(root, 'usr/local/lib/vault-pki-agent');
    // What an older release left behind: removed by the upgrade.
    mkdirSync(lib, { recursive: true });
    writeFileSync(join(lib, 'vault-pki-agent.mjs'), '// old\n');
    mkdirSync(join(root, 'var/cache/vault-pki-agent'), { recursive: true });
    writeFileSync(
      join(root, 'var/cache/vault-pki-agent/vault-pki-agent-0000000000000000-bootstrap-00000000.cache'),
      '',
    );
    const fakeBin = join(root, 'fake-bin');
    mkdirSync(fakeBin);
    symlinkSync(FAKE_SYSTEMCTL, join(fakeBin, 'systemctl'));
    const log = join(root, 'systemctl.log');
    const r = spawnSync('bash', [join(CFN_DIR, 'node-boot.sh'), 'install-agent', pkg], {
      env: { PATH: `${fakeBin}:${process.env.PATH}`, VPA_BOOT_ROOT: root, FAKE_SYSTEMCTL_LOG: log },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^vault-pki-agent \d+\.\d+\.\d+/);
    expect(readdirSync(lib).sort()).toEqual([
      'vault-pki-agent-program.cjs',
      'vault-pki-agent.cjs',
      'vault-pki-agent.cjs.cache',
    ]);
    expect(readdirSync(join(root, 'var/cache/vault-pki-agent'))).toEqual([]);
    expect(readFileSync(log, 'utf8')).toContain('daemon-reload');
    // A running `run` daemon is moved onto the new agent (try-restart: nothing if it is not running).
    expect(readFileSync(log, 'utf8').trim().split('\n').at(-1)).toBe(
      'try-restart vault-pki-agent-run.service',
    );
    expect(readdirSync(join(root, 'etc/systemd/system'))).toContain('vault-pki-agent.service');
    const agent = spawnSync(join(root, 'usr/local/bin/vault-pki-agent'), ['bootstrap', '--help'], {
      env: { PATH: process.env.PATH, VPA_DEBUG: '1' },
      encoding: 'utf8',
    });
    expect(agent.status, agent.stderr).toBe(0);
    expect(agent.stdout).toContain('--dry-run');
    expect(agent.stderr).toContain('code cache: used (beside)');
  });
});

describe('node-boot scrub (cloud-init keeps copies of the user data, and so of the token)', () => {
  function fakeInstance(token: string) {
    const root = mkdtempSync(join(scratch, 'root-'));
    const put = (path: string, content: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content, { mode: 0o600 });
    };
    const inst = 'var/lib/cloud/instances/i-0123456789abcdef0';
    put('etc/vault-pki-agent/token', token);
    put(`${inst}/user-data.txt`, `#cloud-config\nwrite_files: [{content: "${token}"}]\n`);
    put(`${inst}/user-data.txt.i`, `MIME ... ${token}`);
    put(`${inst}/cloud-config.txt`, `write_files: [{content: "${token}"}]`);
    put(`${inst}/obj.pkl`, `pickle ${token}`);
    put(`${inst}/scripts/part-001`, `#!/bin/sh\nexport VAULT_TOKEN=${token}\n`);
    put(`${inst}/scripts/runcmd`, '#!/bin/sh\n/usr/local/lib/vault-pki-agent/fetch-and-boot\n');
    put(`${inst}/sem/config_write_files`, '1\n');
    put(`${inst}/vendor-data.txt`, 'vendor\n');
    put('run/cloud-init/instance-data-sensitive.json', `{"user-data": "${token}"}`);
    put('run/cloud-init/instance-data.json', '{"v1": {}}');
    return { root, inst };
  }
  const scrub = (root: string) =>
    spawnSync('bash', [join(CFN_DIR, 'node-boot.sh'), 'scrub'], {
      env: { PATH: process.env.PATH, VPA_BOOT_ROOT: root },
      encoding: 'utf8',
    });
  const files = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
      .sort();

  it('removes every copy holding the token and keeps everything else', () => {
    const { root, inst } = fakeInstance(TOKEN);
    const r = scrub(root);
    expect(r.status, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toContain(TOKEN);
    expect(files(root)).toEqual(
      [
        'etc/vault-pki-agent/token',
        `${inst}/scripts/runcmd`,
        `${inst}/sem/config_write_files`,
        `${inst}/vendor-data.txt`,
        'run/cloud-init/instance-data.json',
      ].sort(),
    );
  });

  it('a blank token file does not turn into a pattern that matches every file', () => {
    const { root, inst } = fakeInstance('\n\n');
    expect(scrub(root).status).toBe(0);
    // The named caches go regardless; nothing else does.
    expect(files(root)).toContain(`${inst}/scripts/part-001`);
    expect(files(root)).toContain(`${inst}/scripts/runcmd`);
    expect(files(root)).not.toContain(`${inst}/user-data.txt`);
  });
});
