/**
 * On a control-plane node, after the pass: the service-account key pair from Vault (the KV v2 secret
 * `provision` created) written as two files, 0600 with the configured owner, each only when its bytes differ:
 * the signing key, and the verification bundle (the current public key, then the previous ones a rotation keeps).
 * One read per run. A missing or unusable secret is exit 4 (Vault has not what the node needs); a refused read
 * is Vault's own answer (403: exit 4); a failed write exit 6.
 */
import type { AgentConfig } from '../config/types.js';
import { AgentError, ExitCode } from '../errors.js';
import { writeOwnedFile } from '../files/owned-file.js';
import type { Logger } from '../log.js';
import {
  parseServiceAccountSecret,
  serviceAccountDataPath,
  serviceAccountFiles,
} from '../pki/service-account-key.js';
import type { VaultClient } from '../vault/vault-client.js';

export const SERVICE_ACCOUNT_FILE_MODE = 0o600;

export async function writeServiceAccountFiles(
  config: AgentConfig,
  vault: VaultClient,
  log: Logger,
): Promise<{ written: string[]; failure?: AgentError }> {
  const spec = config.serviceAccountKey;
  if (spec === undefined) return { written: [] };
  const path = serviceAccountDataPath(spec.mount);
  try {
    const answer = await vault.read(path);
    if (answer === undefined) {
      throw new AgentError(
        'vault-bad-response',
        ExitCode.vaultRefused,
        `no service-account key at ${path}: run \`vault-pki-agent provision --cluster ${config.cluster}\``,
        { details: { path } },
      );
    }
    let files: ReturnType<typeof serviceAccountFiles>;
    try {
      files = serviceAccountFiles(
        parseServiceAccountSecret((answer.data.data ?? {}) as Record<string, unknown>),
      );
    } catch (error) {
      throw new AgentError(
        'vault-bad-response',
        ExitCode.vaultRefused,
        `service-account key at ${path}: ${(error as Error).message}`,
        { details: { path } },
      );
    }
    const written: string[] = [];
    for (const [file, content] of [
      [spec.key, files.key],
      [spec.publicKeys, files.publicKeys],
    ] as const) {
      const result = await writeOwnedFile(
        { path: file, owner: spec.owner, group: spec.group, mode: SERVICE_ACCOUNT_FILE_MODE },
        content,
      );
      if (result.changed) written.push(file);
    }
    if (written.length > 0) {
      log.info('service-account key written', {
        files: written.join(','),
        public_keys: files.publicKeys.split('BEGIN PUBLIC KEY').length - 1,
      });
    }
    return { written };
  } catch (error) {
    const e = AgentError.is(error)
      ? error
      : new AgentError('internal', ExitCode.internal, `service-account key: ${(error as Error).message}`, {
          cause: error,
        });
    log.error('service-account key failed', { error: e.message, code: e.code });
    return { written: [], failure: e };
  }
}
