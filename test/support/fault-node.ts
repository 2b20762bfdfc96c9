/**
 * A node for the fault-matrix tests (test/faults): a work directory with a token file and a config for
 * the built agent, a first successful bootstrap, then a config change that forces a re-issue so that a
 * fault can hit the agent while it replaces a set. `snapshotSets` / `checkSet` tell whether the set a
 * reader sees afterwards is the previous one, byte for byte, and whether it is whole (key matches cert).
 * Snapshots hold SHA-256 digests, never file contents: a failing assertion must not print a key.
 * Agent runs go through test/support/agent.ts, so their output is in the run's secret scan.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentRun, type RunAgentOptions, runAgent } from './agent.js';
import { nodeConfig, type TestCert } from './node-config.js';
import type { TestVault } from './openbao.js';
import { createToken, provisionTestPki, type TestPki, writePolicy } from './vault-pki.js';

export const SET_FILES = ['cert.pem', 'key.pem', 'ca.pem', 'fullchain.pem'] as const;

/** Two sets: one signed from a local key (etcd-peer), one where Vault generates the key (kubelet-client). */
export const FAULT_CERTS: TestCert[] = [
  { name: 'etcd-peer', preset: 'etcd-peer' },
  { name: 'kubelet-client', preset: 'kubelet-client', mode: 'issue' },
];

/** The same sets with one SAN more on etcd-peer: that set must be re-issued, the other stays. */
export const REISSUE_CERTS: TestCert[] = [
  { name: 'etcd-peer', preset: 'etcd-peer', altNames: ['reissue.node-1.example.internal'] },
  { name: 'kubelet-client', preset: 'kubelet-client', mode: 'issue' },
];

export const REISSUED_SAN = 'DNS:reissue.node-1.example.internal';

/** PKI mounts, roles and a `node` policy for FAULT_CERTS. */
export async function provisionFaultPki(vault: TestVault): Promise<TestPki> {
  const pki = await provisionTestPki(vault, 'c1');
  await writePolicy(vault, 'node', [`${pki.etcdMount}/member`, `${pki.k8sMount}/kubelet-client`]);
  return pki;
}

/** One OpenBao for a fault file: started by `start`, with the fault PKI provisioned. */
export async function startFaultVault<V extends TestVault>(start: () => Promise<V>): Promise<V> {
  const vault = await start();
  await provisionFaultPki(vault);
  return vault;
}

/**
 * The state every fault is applied to: a fresh node bootstrapped once (must exit 0) with `config`, its
 * sets snapshotted (`snapshot` names, default all), then the config changed to `next` when given (e.g.
 * REISSUE_CERTS, so the next run must re-issue).
 */
export async function bootstrappedFaultNode(
  vault: TestVault,
  config: ConfigOptions,
  opts: { next?: ConfigOptions; env?: Record<string, string | undefined>; snapshot?: string[] } = {},
): Promise<{ node: FaultNode; before: SetSnapshot }> {
  const node = await createFaultNode(vault);
  node.writeConfig(config);
  const first = await node.bootstrap([], opts.env ? { env: opts.env } : {});
  if (first.code !== 0) {
    node.cleanup();
    throw new Error(`the first bootstrap failed (exit ${first.code}): ${first.stderr}`);
  }
  const before = snapshotSets(node, opts.snapshot);
  if (opts.next) node.writeConfig(opts.next);
  return { node, before };
}

export interface ConfigOptions {
  address: string;
  certs?: TestCert[];
  /** vault.caCert in the config. */
  caCert?: string;
  extra?: string;
}

export interface FaultNode {
  readonly work: string;
  readonly tokenFile: string;
  readonly configFile: string;
  /** files.dir of a set. */
  dir(name: string): string;
  writeConfig(options: ConfigOptions): void;
  /**
   * Runs the built agent once. `wrap` prefixes the command (e.g. setpriv with fewer capabilities); the
   * environment holds PATH, HOME and `env` only, like a unit's.
   */
  agent(args: string[], options?: RunAgentOptions): Promise<AgentRun>;
  /** `bootstrap --config <configFile> ...args`. */
  bootstrap(args?: string[], options?: RunAgentOptions): Promise<AgentRun>;
  cleanup(): void;
}

export async function createFaultNode(vault: TestVault, prefix = 'vpa-fault-'): Promise<FaultNode> {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const tokenFile = join(work, 'token');
  const configFile = join(work, 'config.yaml');
  writeFileSync(tokenFile, `${await createToken(vault, { policies: ['node'], period: '1h' })}\n`, {
    mode: 0o600,
  });
  const node: FaultNode = {
    work,
    tokenFile,
    configFile,
    dir: (name) => join(work, 'pki', name),
    writeConfig({ address, certs = FAULT_CERTS, caCert, extra }) {
      let text = nodeConfig({ address, tokenFile, work, certs, extra });
      if (caCert) text = text.replace(/^vault:\n/m, `vault:\n  caCert: ${caCert}\n`);
      writeFileSync(configFile, text);
    },
    agent: (args, options) => runAgent(args, options),
    bootstrap: (args = [], options) => runAgent(['bootstrap', '--config', configFile, ...args], options),
    cleanup: () => rmSync(work, { recursive: true, force: true }),
  };
  return node;
}

/** What a reader of each set sees (through the symlinks): digests per file, and the generation. */
export type SetSnapshot = Record<string, string>;

function digest(path: string): string {
  if (!existsSync(path)) return 'missing';
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function snapshotSets(node: FaultNode, names: string[] = FAULT_CERTS.map((c) => c.name)): SetSnapshot {
  const out: SetSnapshot = {};
  for (const name of names) {
    const dir = node.dir(name);
    for (const f of SET_FILES) out[`${name}/${f}`] = digest(join(dir, f));
    let generation = 'none';
    try {
      generation = readlinkSync(join(dir, '..data'));
    } catch {}
    out[`${name}/..data`] = generation;
  }
  return out;
}

export interface SetCheck {
  complete: boolean;
  /** Why not, for the assertion message (never file contents). */
  why: string;
  sans: string[];
  serial?: string;
}

/** The set in `dir` is whole: all four files, the key matches the certificate, fullchain starts with it. */
export function checkSet(dir: string): SetCheck {
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch {
      return undefined;
    }
  };
  const [cert, key, ca, fullchain] = SET_FILES.map(read);
  if (!cert || !key || !ca || !fullchain) {
    const missing = SET_FILES.filter((f) => !read(f)).join(', ');
    return { complete: false, why: `missing or empty: ${missing}`, sans: [] };
  }
  const x509 = new X509Certificate(cert);
  const sans = (x509.subjectAltName ?? '').split(', ').filter(Boolean);
  if (!x509.checkPrivateKey(createPrivateKey(key))) {
    return { complete: false, why: 'key.pem does not match cert.pem', sans, serial: x509.serialNumber };
  }
  if (!fullchain.startsWith(cert.trim())) {
    return {
      complete: false,
      why: 'fullchain.pem does not start with cert.pem',
      sans,
      serial: x509.serialNumber,
    };
  }
  if (!x509.verify(new X509Certificate(ca).publicKey)) {
    return { complete: false, why: 'cert.pem is not signed by ca.pem', sans, serial: x509.serialNumber };
  }
  return { complete: true, why: '', sans, serial: x509.serialNumber };
}

/** Log lines at level=error or warn, for messages in assertions. */
export function problemLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /level=(error|warn)/.test(l));
}

/** `text` as a literal inside a RegExp (paths in expected messages). */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
