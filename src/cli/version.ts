import { BUILT, COMMIT, VERSION } from '../version.js';

export function versionText(): string {
  return `vault-pki-agent ${VERSION} (commit ${COMMIT}, built ${BUILT}, node ${process.versions.node})`;
}
