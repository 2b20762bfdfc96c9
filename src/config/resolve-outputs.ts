/**
 * The rules of `kubeconfigs:` and `serviceAccountKey:` that span keys: each names a certificate of this config that is a client
 * certificate, each file has its own path, and no file lies inside a set directory (the set writer owns
 * every name there and removes strangers).
 */
import type { RawConfig } from './schema.js';
import type { CertSpec, KubeconfigSpec, ServiceAccountKeySpec } from './types.js';
import type { ConfigIssue } from './yaml-source.js';

const inside = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

export function resolveKubeconfigs(
  raw: RawConfig['kubeconfigs'],
  certificates: readonly CertSpec[],
  issues: ConfigIssue[],
): KubeconfigSpec[] | undefined {
  if (raw === undefined) return undefined;
  const seen = new Map<string, number>();
  return raw.map((k, index) => {
    const at = (...path: string[]) => ['kubeconfigs', index, ...path];
    const cert = certificates.find((c) => c.name === k.certificate);
    if (cert === undefined) {
      const known = certificates.map((c) => c.name).join(', ') || 'none';
      issues.push({
        path: at('certificate'),
        message: `no certificate named ${JSON.stringify(k.certificate)} in this config (known: ${known})`,
      });
    } else if (!cert.usages.includes('client')) {
      issues.push({
        path: at('certificate'),
        message: `certificate ${k.certificate} is not a client certificate (usages: ${cert.usages.join(', ')})`,
      });
    }
    const before = seen.get(k.path);
    if (before !== undefined) {
      issues.push({ path: at('path'), message: `${k.path} is already the path of kubeconfigs[${before}]` });
    } else {
      seen.set(k.path, index);
    }
    const owner = certificates.find((c) => inside(k.path, c.files.dir));
    if (owner !== undefined) {
      issues.push({
        path: at('path'),
        message: `${k.path} is inside the directory of certificate ${owner.name} (${owner.files.dir}); the agent keeps only its set there`,
      });
    }
    return {
      path: k.path,
      certificate: k.certificate,
      server: k.server,
      ...(k.owner === undefined ? {} : { owner: k.owner }),
      ...(k.group === undefined ? {} : { group: k.group }),
    };
  });
}

/** The key pair's two files: distinct, outside every set directory, not a kubeconfig's path. */
export function resolveServiceAccountKey(
  raw: RawConfig['serviceAccountKey'],
  cluster: string,
  certificates: readonly CertSpec[],
  kubeconfigs: readonly KubeconfigSpec[],
  issues: ConfigIssue[],
): ServiceAccountKeySpec | undefined {
  if (raw === undefined) return undefined;
  const at = (key: string) => ['serviceAccountKey', key];
  if (raw.key === raw.publicKeys) {
    issues.push({ path: at('publicKeys'), message: `${raw.publicKeys} is also the path of key` });
  }
  for (const key of ['key', 'publicKeys'] as const) {
    const path = raw[key];
    const owner = certificates.find((c) => inside(path, c.files.dir));
    if (owner !== undefined) {
      issues.push({
        path: at(key),
        message: `${path} is inside the directory of certificate ${owner.name} (${owner.files.dir}); the agent keeps only its set there`,
      });
    }
    if (kubeconfigs.some((k) => k.path === path)) {
      issues.push({ path: at(key), message: `${path} is also the path of a kubeconfig` });
    }
  }
  return {
    key: raw.key,
    publicKeys: raw.publicKeys,
    ...(raw.owner === undefined ? {} : { owner: raw.owner }),
    ...(raw.group === undefined ? {} : { group: raw.group }),
    mount: raw.mount ?? `k8s/${cluster}/kv`,
  };
}
