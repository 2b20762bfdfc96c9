/**
 * `provision`'s part in the service-account key pair every control-plane node shares: a KV v2 mount
 * (`k8s/<c>/kv`) and one secret in it, created once with a key generated here in memory, never overwritten
 * (check-and-set 0), never printed. Only the control-plane policy reads it (`secretReads`).
 * `--rotate-service-account-key` replaces the signing key and keeps the previous public keys for verification.
 */

import type { NodeType } from '../config/presets.js';
import { AgentError, ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  defaultKvMount,
  generateServiceAccountKey,
  parseServiceAccountSecret,
  rotatedSecret,
  serviceAccountDataPath,
} from '../pki/service-account-key.js';
import type { VaultClient } from '../vault/vault-client.js';

/** Paths a node type's policy may read besides its PKI grants: the control plane reads the key pair. */
export function secretReads(cluster: string, nodeType: NodeType): string[] {
  return nodeType === 'control-plane' ? [serviceAccountDataPath(defaultKvMount(cluster))] : [];
}

export interface ServiceAccountKeyOptions {
  plan: boolean;
  rotate: boolean;
}

/** A write to a KV v2 mount created a moment ago may be refused while Vault sets it up: ask again briefly. */
async function writeSoon(vault: VaultClient, path: string, body: Record<string, unknown>) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await vault.write(path, body);
    } catch (error) {
      const status = AgentError.is(error) ? error.details.status : undefined;
      const casMismatch = /check-and-set/i.test((error as Error).message);
      if (casMismatch || attempt >= 20 || (status !== 400 && status !== 404 && status !== 503)) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Returns the plan lines (`+ …`, `~ …`), applying them unless `plan`. */
export async function provisionServiceAccountKey(
  vault: VaultClient,
  cluster: string,
  opts: ServiceAccountKeyOptions,
  log: Logger,
): Promise<string[]> {
  const mount = defaultKvMount(cluster);
  const path = serviceAccountDataPath(mount);
  const lines: string[] = [];
  const mounts = (await vault.read('sys/mounts'))?.data ?? {};
  const existing = mounts[`${mount}/`] as { type?: string; options?: { version?: string } } | undefined;
  if (existing !== undefined && (existing.type !== 'kv' || existing.options?.version !== '2')) {
    throw new ConfigError(`${mount} is mounted but is not a KV version 2 mount (type ${existing.type})`);
  }
  if (existing === undefined) {
    lines.push(`+ mount ${mount} (KV v2: the service-account key pair, read by the control-plane policy)`);
    if (!opts.plan) {
      await vault.write(`sys/mounts/${mount}`, {
        type: 'kv',
        options: { version: '2' },
        description: `control-plane secrets of cluster ${cluster} (vault-pki-agent)`,
      });
      log.info('created', { resource: `mount ${mount}` });
    }
  }
  const current = existing === undefined ? undefined : await vault.read(path);
  if (current === undefined) {
    lines.push(`+ service-account key ${path} (RSA 2048, generated in memory, written once)`);
    if (!opts.plan) {
      try {
        await writeSoon(vault, path, {
          options: { cas: 0 },
          data: { private_key: generateServiceAccountKey(), previous_public_keys: '' },
        });
        log.info('created', { resource: `service-account key ${path}` });
      } catch (error) {
        // Another provision created it meanwhile: theirs is kept, as it would have been had it been first.
        if (!/check-and-set/i.test((error as Error).message)) throw error;
        log.info('service-account key created by another run meanwhile: kept', { path });
      }
    }
    return lines;
  }
  if (!opts.rotate) return lines;
  const data = (current.data.data ?? {}) as Record<string, unknown>;
  const version = (current.data.metadata as { version?: unknown } | undefined)?.version;
  let secret: ReturnType<typeof parseServiceAccountSecret>;
  try {
    secret = parseServiceAccountSecret(data);
  } catch (error) {
    throw new ConfigError(`service-account key ${path}: ${(error as Error).message}`, { cause: error });
  }
  lines.push(
    `~ service-account key ${path}: new signing key; ${secret.previousPublicKeysPem.length + 1} previous public key(s) kept for verification`,
  );
  if (!opts.plan) {
    await vault.write(path, {
      options: { cas: typeof version === 'number' ? version : 0 },
      data: rotatedSecret(secret, generateServiceAccountKey()),
    });
    log.info('rotated', { resource: `service-account key ${path}` });
  }
  return lines;
}
