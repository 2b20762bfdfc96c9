/**
 * After a pass: the component kubeconfigs of `kubeconfigs:`, each written only when its bytes (or owner,
 * group, mode) differ. They name the sets' files by path, so a renewal leaves them as they are. A file
 * that cannot be written is a WriteError (exit 6) after the others were tried.
 */
import type { AgentConfig } from '../config/types.js';
import { AgentError } from '../errors.js';
import { writeOwnedFile } from '../files/owned-file.js';
import { renderComponentKubeconfig } from '../kube/component-kubeconfig.js';
import type { Logger } from '../log.js';

/** Kubeconfigs hold no secret (paths only) but name the key: 0600 like kubeadm's. */
export const KUBECONFIG_MODE = 0o600;

export interface KubeconfigFilesResult {
  written: string[];
  failure?: AgentError;
}

export async function writeKubeconfigFiles(config: AgentConfig, log: Logger): Promise<KubeconfigFilesResult> {
  const written: string[] = [];
  let failure: AgentError | undefined;
  for (const spec of config.kubeconfigs ?? []) {
    const cert = config.certificates.find((c) => c.name === spec.certificate);
    if (cert === undefined) continue; // config resolution refuses this
    try {
      const result = await writeOwnedFile(
        { path: spec.path, owner: spec.owner, group: spec.group, mode: KUBECONFIG_MODE },
        renderComponentKubeconfig(spec, cert, config.cluster),
      );
      if (result.changed) {
        written.push(spec.path);
        log.info('kubeconfig written', { path: spec.path, certificate: spec.certificate });
      }
    } catch (error) {
      const e = AgentError.is(error)
        ? error
        : new AgentError('internal', 1, `kubeconfig ${spec.path}: ${(error as Error).message}`, {
            cause: error,
          });
      log.error('kubeconfig failed', { path: spec.path, error: e.message, code: e.code });
      failure = failure ?? e;
    }
  }
  return { written, ...(failure === undefined ? {} : { failure }) };
}
