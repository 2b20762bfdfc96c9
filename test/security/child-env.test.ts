/**
 * The Vault token never reaches a child process: not in its argv, not in its environment. Every
 * program the agent starts (exec actions, health-check commands, systemctl) is a recorder here that
 * writes down its argv and environment; the token is looked for in what they saw.
 *
 * The environment matters because a child inherits the agent's by default: an agent given its token
 * through VAULT_TOKEN would hand it to every restart hook, readable in /proc/<pid>/environ for as long
 * as that child (or its own children) lives.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runExecAction } from '../../src/services/exec-action.js';
import { runHealthCheck } from '../../src/services/health-check.js';
import { SystemctlServiceManager } from '../../src/services/service-manager.js';
import { runAgent } from '../support/agent.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { createToken, provisionTestPki, type TestPki, writePolicy } from '../support/vault-pki.js';

const CANARY = 'hvs.CANARYcanaryCANARYcanary0123456789';
let dir: string;

/** A node one-liner that records its argv and environment into `dir`. */
const recorderArgv = (into: string) => [
  process.execPath,
  '-e',
  'require("fs").writeFileSync(process.argv[1] + "/rec-" + process.pid + ".json", JSON.stringify({ argv: process.argv, env: process.env }))',
  into,
];

// Recording stand-in for systemctl: dumps the environment the agent gives it; a real systemctl would not show it.
/** A systemctl stand-in (an executable file: the agent takes one path) that records the same way. */
function recordingSystemctl(into: string): string {
  const path = join(into, 'systemctl');
  writeFileSync(path, `#!/bin/sh\n{ printf '%s\\n' "$0" "$@"; env; } > "${into}/systemctl-$$.txt"\nexit 0\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Everything the recorders wrote, as text. */
function recorded(into: string): string[] {
  return readdirSync(into)
    .filter((f) => f.startsWith('rec-') || f.startsWith('systemctl-'))
    .map((f) => readFileSync(join(into, f), 'utf8'));
}

describe('children of the agent process (in-process, VAULT_TOKEN in the agent environment)', () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vpa-child-env-'));
    process.env.VAULT_TOKEN = CANARY;
    process.env.BAO_TOKEN = CANARY;
    process.env.VPA_HARMLESS = 'kept';
  });
  afterEach(() => {
    delete process.env.VAULT_TOKEN;
    delete process.env.BAO_TOKEN;
    delete process.env.VPA_HARMLESS;
    rmSync(dir, { recursive: true, force: true });
  });

  it('exec actions get neither VAULT_TOKEN nor BAO_TOKEN, but the rest of the environment', async () => {
    await runExecAction(recorderArgv(dir), { VPA_CERT_NAME: 'etcd-peer', VPA_CERT_DIR: '/x' });
    const [rec] = recorded(dir);
    expect(rec).toBeDefined();
    expect(rec).not.toContain(CANARY);
    const env = JSON.parse(rec!).env as Record<string, string>;
    expect(env).toMatchObject({ VPA_HARMLESS: 'kept', VPA_CERT_NAME: 'etcd-peer', VPA_CERT_DIR: '/x' });
    expect(env.PATH).toBe(process.env.PATH);
  });

  it('health-check commands get no Vault token', async () => {
    await runHealthCheck(
      'etcd-peer',
      { command: recorderArgv(dir), timeoutMs: 5000 },
      {
        cert: '/x/cert.pem',
        key: '/x/key.pem',
        ca: '/x/ca.pem',
      },
    );
    const [rec] = recorded(dir);
    expect(rec).toBeDefined();
    expect(rec).not.toContain(CANARY);
    expect(rec).toContain('VPA_HARMLESS');
  });

  it('systemctl gets no Vault token, and keeps its own settings (the environment the fake reads)', async () => {
    const manager = new SystemctlServiceManager({
      binary: recordingSystemctl(dir),
      env: { FAKE_SETTING: 'x' },
    });
    await manager.run('etcd.service', 'restart');
    const [rec] = recorded(dir);
    expect(rec).toBeDefined();
    expect(rec).not.toContain(CANARY);
    expect(rec).toContain('FAKE_SETTING=x');
    expect(rec).toContain('VPA_HARMLESS=kept');
  });
});

describe('bootstrap end to end: token from VAULT_TOKEN, every child recorded', () => {
  let vault: TestVault;
  let pki: TestPki;
  let work: string;

  beforeAll(async () => {
    vault = await startOpenBao({ name: 'child-env' });
    pki = await provisionTestPki(vault, 'c1');
    await writePolicy(vault, 'node', [`${pki.k8sMount}/apiserver`, `${pki.k8sMount}/kubelet-client`]);
    work = mkdtempSync(join(tmpdir(), 'vpa-child-env-e2e-'));
  });
  afterAll(async () => {
    await vault?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('no child sees the token in argv or environment; the token is in no output, state or metrics file', async () => {
    const token = await createToken(vault, { policies: ['node'], period: '1h' });
    const rec = join(work, 'records');
    rmSync(rec, { recursive: true, force: true });
    mkdirSync(rec, { recursive: true });
    const cmd = JSON.stringify(recorderArgv(rec));
    // No tokenFile: the token comes from VAULT_TOKEN, the source that would leak through inheritance.
    writeFileSync(
      join(work, 'config.yaml'),
      `cluster: c1
vault:
  address: ${vault.address}
stateDir: ${join(work, 'state')}
metrics:
  textfile: ${join(work, 'metrics', 'vault-pki-agent.prom')}
node:
  name: node-1
  ip: 10.0.0.10
  loadBalancer: api.c1.example.internal
certificates:
  apiserver:
    preset: apiserver
    files: { dir: ${join(work, 'pki', 'apiserver')} }
    actions:
      - systemd: { unit: kube-apiserver.service, action: restart }
      - exec: ${cmd}
    healthCheck:
      command: ${cmd}
      timeout: 5s
  kubelet-client:
    preset: kubelet-client
    mode: issue
    files: { dir: ${join(work, 'pki', 'kubelet-client')} }
    actions:
      - exec: ${cmd}
`,
    );
    const run = await runAgent(['bootstrap', '--config', join(work, 'config.yaml')], {
      env: { VAULT_TOKEN: token, VPA_SYSTEMCTL: recordingSystemctl(rec) },
    });
    expect(run.stderr).not.toMatch(/level=error/);
    expect(run.code).toBe(0);
    const seen = recorded(rec);
    // The exec action of each set, the health check, and systemctl (is-active + restart) all ran.
    expect(seen.filter((r) => r.startsWith('{')).length).toBeGreaterThanOrEqual(3);
    expect(seen.filter((r) => r.includes('restart')).length).toBe(1);
    for (const r of seen) expect(r).not.toContain(token);
    expect(run.stdout + run.stderr).not.toContain(token);
    // Nor in what the agent leaves on disk besides the key files: state and metrics.
    const state = readdirSync(join(work, 'state')).map((f) => readFileSync(join(work, 'state', f), 'utf8'));
    const metrics = readFileSync(join(work, 'metrics', 'vault-pki-agent.prom'), 'utf8');
    expect(state.length).toBeGreaterThan(0);
    expect(metrics).toContain('apiserver');
    for (const text of [...state, metrics]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain('PRIVATE KEY');
    }
  });
});
