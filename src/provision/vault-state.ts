/**
 * The two edges of `provision`, both through the VaultClient port: read what exists (reads and lists
 * only, so a run without changes makes no write request), and apply a plan in order.
 */
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { VaultClient } from '../vault/vault-client.js';
import type { DesiredResource, DesiredState } from './desired-state.js';
import type { Change, ObservedState } from './diff.js';

type Observed = Record<string, unknown> | undefined;

export async function readObservedState(vault: VaultClient, desired: DesiredState): Promise<ObservedState> {
  const mountsAnswer = await vault.read('sys/mounts');
  const mounts = (mountsAnswer?.data ?? {}) as Record<
    string,
    { type?: string; config?: Record<string, unknown> }
  >;
  const mounted = (path: string) => mounts[`${path}/`];

  const readOne = async (r: DesiredResource): Promise<Observed> => {
    switch (r.kind) {
      case 'mount': {
        const m = mounted(r.path);
        return m ? { type: m.type, max_lease_ttl: m.config?.max_lease_ttl } : undefined;
      }
      case 'ca': {
        if (!mounted(r.mount)) return undefined;
        const issuers = await vault.list(`${r.mount}/issuers`);
        return issuers.length > 0 ? { present: true } : undefined;
      }
      case 'urls':
        return mounted(r.mount) ? (await vault.read(`${r.mount}/config/urls`))?.data : undefined;
      case 'auto-tidy':
        return mounted(r.mount) ? (await vault.read(`${r.mount}/config/auto-tidy`))?.data : undefined;
      case 'role':
        return mounted(r.mount) ? vault.readRole(r.mount, r.name) : undefined;
      case 'policy':
        return (await vault.read(`sys/policies/acl/${r.name}`))?.data;
      case 'token-role':
        return (await vault.read(`auth/token/roles/${r.name}`))?.data;
    }
  };
  const entries = await Promise.all(desired.resources.map(async (r) => [r.id, await readOne(r)] as const));
  return new Map(entries);
}

function certificateOf(data: Record<string, unknown>, what: string): string {
  const pem = data.certificate;
  if (typeof pem !== 'string' || !pem.includes('BEGIN CERTIFICATE')) {
    throw new ConfigError(`Vault returned no certificate for ${what}`);
  }
  return pem.trim();
}

async function createCa(vault: VaultClient, r: Extract<DesiredResource, { kind: 'ca' }>): Promise<void> {
  const ttl = `${r.ttlSeconds}s`;
  const key = { key_type: r.keyType, key_bits: r.keyBits };
  if (!r.parent) {
    await vault.write(`${r.mount}/root/generate/internal`, { common_name: r.commonName, ttl, ...key });
    return;
  }
  const csr = (
    await vault.write(`${r.mount}/intermediate/generate/internal`, { common_name: r.commonName, ...key })
  ).data.csr;
  if (typeof csr !== 'string')
    throw new ConfigError(`Vault returned no CSR for the intermediate CA of ${r.mount}`);
  const signed = await vault.write(`${r.parent}/root/sign-intermediate`, {
    csr,
    common_name: r.commonName,
    ttl,
    format: 'pem',
  });
  const cert = certificateOf(signed.data, `${r.parent}/root/sign-intermediate`);
  const chain = Array.isArray(signed.data.ca_chain)
    ? signed.data.ca_chain.map(String)
    : [String(signed.data.issuing_ca ?? '')];
  // The mount serves cert + parent chain, so clients can build the path to the parent's root.
  const bundle = [cert, ...chain.map((c) => c.trim()).filter((c) => c && c !== cert)].join('\n');
  await vault.write(`${r.mount}/intermediate/set-signed`, { certificate: bundle });
}

async function applyChange(vault: VaultClient, change: Change): Promise<void> {
  const r = change.resource;
  switch (r.kind) {
    case 'mount':
      if (change.action === 'create') {
        await vault.write(`sys/mounts/${r.path}`, {
          type: 'pki',
          description: r.description,
          config: { max_lease_ttl: `${r.fields.max_lease_ttl}s` },
        });
      } else {
        await vault.write(`sys/mounts/${r.path}/tune`, { max_lease_ttl: `${r.fields.max_lease_ttl}s` });
      }
      return;
    case 'ca':
      await createCa(vault, r);
      return;
    case 'urls':
      await vault.write(`${r.mount}/config/urls`, r.fields);
      return;
    case 'auto-tidy':
      await vault.write(`${r.mount}/config/auto-tidy`, r.fields);
      return;
    case 'role':
      // A POST replaces the whole role: fields provision does not manage go back to Vault's defaults.
      await vault.write(`${r.mount}/roles/${r.name}`, r.fields);
      return;
    case 'policy':
      await vault.write(`sys/policies/acl/${r.name}`, r.fields);
      return;
    case 'token-role':
      await vault.write(`auth/token/roles/${r.name}`, r.fields);
      return;
  }
}

/** Applies the changes in plan order (mounts before their CA, roles before the policies naming them). */
export async function applyChanges(
  vault: VaultClient,
  changes: readonly Change[],
  log: Logger,
): Promise<void> {
  const conflicts = changes.filter((c) => c.action === 'conflict');
  if (conflicts.length > 0) {
    throw new ConfigError(
      `provision cannot continue: ${conflicts.map((c) => (c.action === 'conflict' ? c.reason : '')).join('; ')}`,
    );
  }
  for (const change of changes) {
    await applyChange(vault, change);
    log.info(change.action === 'create' ? 'created' : 'updated', { resource: change.resource.id });
  }
}
