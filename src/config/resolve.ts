/**
 * Schema-valid raw config -> AgentConfig: defaults, presets, SAN merging and the rules that span
 * several keys (role/mount/CN present after the preset, one directory per certificate).
 */
import type { HostFacts } from '../types/host-facts.js';
import { defaultMountNaming, expandPreset, type PresetName, splitSans } from './presets.js';
import { resolveKubeconfigs, resolveServiceAccountKey } from './resolve-outputs.js';
import type { RawCertificate, RawConfig } from './schema.js';
import type {
  ActionSpec,
  AgentConfig,
  CertSpec,
  FileNames,
  HealthCheckSpec,
  KeySpec,
  MountNaming,
  NodeParams,
  Usage,
  VaultSettings,
} from './types.js';
import { normaliseIp } from './validate.js';
import type { ConfigIssue } from './yaml-source.js';

export const DEFAULTS = {
  key: { type: 'ec', bits: 256 } as KeySpec,
  ttlSeconds: 720 * 3600,
  renewAt: 2 / 3,
  mode: 'sign' as const,
  names: { cert: 'cert.pem', key: 'key.pem', ca: 'ca.pem', fullchain: 'fullchain.pem' } as FileNames,
  certMode: 0o644,
  dirMode: 0o750,
  healthCheckTimeoutMs: 30_000,
  serviceIp: '10.96.0.1',
  dnsDomain: 'cluster.local',
  stateDir: '/var/lib/vault-pki-agent',
  /** Without a preset, ask for what a Vault role gives by default (server_flag and client_flag). */
  usages: ['server', 'client'] as Usage[],
} as const;

export interface ResolveResult {
  config: AgentConfig;
  issues: ConfigIssue[];
}

function resolveNode(raw: RawConfig, host: HostFacts): NodeParams {
  const ip = raw.node?.ip ?? normaliseIp(host.ipv4 ?? '') ?? normaliseIp(host.ipv6 ?? '');
  const loadBalancer = raw.node?.loadBalancer;
  return {
    name: raw.node?.name ?? host.hostname,
    ...(ip === undefined ? {} : { ip }),
    ...(loadBalancer === undefined || loadBalancer === '' ? {} : { loadBalancer }),
    serviceIp: raw.node?.serviceIp ?? DEFAULTS.serviceIp,
    dnsDomain: raw.node?.dnsDomain ?? DEFAULTS.dnsDomain,
  };
}

function resolveVault(raw: RawConfig): VaultSettings {
  const v = raw.vault ?? {};
  return {
    ...(v.address === undefined ? {} : { address: v.address }),
    ...(v.caCert === undefined ? {} : { caCert: v.caCert }),
    ...(v.caPath === undefined ? {} : { caPath: v.caPath }),
    ...(v.namespace === undefined ? {} : { namespace: v.namespace }),
    ...(v.tokenFile === undefined ? {} : { tokenFile: v.tokenFile }),
    wrappedToken: v.wrappedToken ?? false,
    ...(v.timeout === undefined ? {} : { requestTimeoutMs: Math.round(v.timeout * 1000) }),
  };
}

function resolveActions(raw: RawCertificate['actions']): ActionSpec[] {
  const actions: ActionSpec[] = [];
  for (const a of raw ?? []) {
    if (a.systemd !== undefined) {
      actions.push({
        kind: 'systemd',
        unit: a.systemd.unit,
        action: a.systemd.action,
        start: a.systemd.start ?? false,
      });
    } else if (a.exec !== undefined) {
      actions.push({ kind: 'exec', argv: a.exec });
    }
  }
  return actions;
}

function resolveHealthCheck(raw: RawCertificate['healthCheck']): HealthCheckSpec | undefined {
  if (raw === undefined) return undefined;
  return {
    ...(raw.tls === undefined ? {} : { tls: raw.tls }),
    ...(raw.command === undefined ? {} : { command: raw.command }),
    timeoutMs: raw.timeout === undefined ? DEFAULTS.healthCheckTimeoutMs : Math.round(raw.timeout * 1000),
  };
}

/** `certOrder` is the order of the names in the document (JS objects put integer-like keys first). */
export function resolveConfig(raw: RawConfig, host: HostFacts, certOrder: readonly string[]): ResolveResult {
  const issues: ConfigIssue[] = [];
  const cluster = raw.cluster;
  const mounts: MountNaming = { ...defaultMountNaming(cluster), ...raw.defaults?.mountNaming };
  const node = resolveNode(raw, host);
  const defaults = raw.defaults ?? {};
  const rawCerts = raw.certificates ?? {};
  const names = [
    ...certOrder.filter((n) => Object.hasOwn(rawCerts, n)),
    ...Object.keys(rawCerts).filter((n) => !certOrder.includes(n)),
  ];
  const dirs = new Map<string, string>();
  const certificates: CertSpec[] = [];

  for (const name of names) {
    const c = rawCerts[name] as RawCertificate;
    const at = (...path: (string | number)[]): (string | number)[] => ['certificates', name, ...path];
    const preset =
      c.preset === undefined
        ? undefined
        : expandPreset(c.preset as PresetName, { ...node, node: node.name, mounts });

    if (preset?.missing.includes('<ip>')) {
      issues.push({
        path: at('preset'),
        message: `preset ${c.preset} needs the node's IP address (<ip>), but the host has none: set node.ip`,
      });
    }
    const mount = c.mount ?? preset?.mount;
    const role = c.role ?? preset?.role;
    const commonName = c.commonName ?? preset?.commonName;
    if (mount === undefined) issues.push({ path: at('mount'), message: 'is required (no preset sets it)' });
    if (role === undefined) issues.push({ path: at('role'), message: 'is required (no preset sets it)' });
    if (commonName === undefined) {
      issues.push({
        path: at('commonName'),
        message:
          c.preset === undefined
            ? 'is required (no preset sets it)'
            : `is required: preset ${c.preset} leaves the CN to the config (e.g. commonName: flanneld)`,
      });
    } else if (commonName.length > 64) {
      issues.push({
        path: c.commonName === undefined ? at('preset') : at('commonName'),
        message: `common name ${JSON.stringify(commonName)} is longer than 64 characters`,
      });
    }

    const presetSans =
      preset === undefined || c.replaceSans === true ? [] : [...preset.dnsSans, ...preset.ipSans];
    const sans = splitSans([...presetSans, ...(c.altNames ?? []), ...(c.ipSans ?? [])]);

    const fileNames: FileNames = { ...DEFAULTS.names, ...c.files.names };
    const distinct = new Set(Object.values(fileNames));
    if (distinct.size !== 4) {
      issues.push({
        path: at('files', 'names'),
        message: 'cert, key, ca and fullchain must be four different names',
      });
    }
    const previous = dirs.get(c.files.dir);
    if (previous !== undefined) {
      issues.push({
        path: at('files', 'dir'),
        message: `${c.files.dir} is already the directory of certificate ${previous}; each certificate needs its own`,
      });
    } else {
      dirs.set(c.files.dir, name);
    }

    const owner = c.files.owner ?? defaults.files?.owner;
    const group = c.files.group ?? defaults.files?.group;
    const healthCheck = resolveHealthCheck(c.healthCheck);
    certificates.push({
      name,
      ...(c.preset === undefined ? {} : { preset: c.preset }),
      mount: mount ?? '',
      role: role ?? '',
      mode: c.mode ?? DEFAULTS.mode,
      commonName: commonName ?? '',
      dnsSans: sans.dnsSans,
      ipSans: sans.ipSans,
      usages: [...new Set(c.usages ?? preset?.usages ?? DEFAULTS.usages)],
      key: c.key ?? defaults.key ?? { ...DEFAULTS.key },
      ttlSeconds: c.ttl ?? defaults.ttl ?? DEFAULTS.ttlSeconds,
      renewAt: c.renewAt ?? defaults.renewAt ?? DEFAULTS.renewAt,
      files: {
        dir: c.files.dir,
        ...(owner === undefined ? {} : { owner }),
        ...(group === undefined ? {} : { group }),
        names: fileNames,
        certMode: c.files.certMode ?? defaults.files?.certMode ?? DEFAULTS.certMode,
        dirMode: c.files.dirMode ?? defaults.files?.dirMode ?? DEFAULTS.dirMode,
      },
      actions: resolveActions(c.actions),
      ...(healthCheck === undefined ? {} : { healthCheck }),
    });
  }

  const kubeconfigs = resolveKubeconfigs(raw.kubeconfigs, certificates, issues);
  const serviceAccountKey = resolveServiceAccountKey(
    raw.serviceAccountKey,
    cluster,
    certificates,
    kubeconfigs ?? [],
    issues,
  );
  const config: AgentConfig = {
    cluster,
    vault: resolveVault(raw),
    certificates,
    ...(kubeconfigs === undefined ? {} : { kubeconfigs }),
    ...(serviceAccountKey === undefined ? {} : { serviceAccountKey }),
    ...(raw.metrics === undefined ? {} : { metrics: { textfile: raw.metrics.textfile } }),
    stateDir: raw.stateDir ?? DEFAULTS.stateDir,
    mounts,
    node,
  };
  return { config, issues };
}
