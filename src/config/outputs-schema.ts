/**
 * The schema of the files the agent writes besides certificate sets: `kubeconfigs:` (a component's
 * kubeconfig referencing a set by path) and `serviceAccountKey:` (the control plane's shared key pair). Built from the value schemas of value-schemas.ts (variables expanded,
 * paths normalised), strict like the rest; the rules that span keys are in resolve-outputs.ts.
 */
import * as z from '../util/zod.js';
import { isMountPath } from './validate.js';
import { absolutePath, account, checked, strict } from './value-schemas.js';

/** `server:` of a kubeconfig: an https URL without credentials, query or fragment. */
function kubeServerProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${JSON.stringify(value)} is not a URL (e.g. https://127.0.0.1:6443)`;
  }
  if (url.protocol !== 'https:') return 'must be an https:// URL (the API server serves TLS only)';
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  if (url.search !== '' || url.hash !== '') return 'must not have a query or fragment';
  return undefined;
}

const kubeconfig = strict({
  path: absolutePath,
  certificate: checked((v) =>
    /^[A-Za-z0-9._-]+$/.test(v) ? undefined : `${JSON.stringify(v)} is not a certificate name`,
  ),
  server: checked(kubeServerProblem),
  owner: z.optional(account),
  group: z.optional(account),
});

export const kubeconfigs = z.array(kubeconfig, { error: 'must be a list of kubeconfig files' });

export const serviceAccountKey = strict({
  key: absolutePath,
  publicKeys: absolutePath,
  owner: z.optional(account),
  group: z.optional(account),
  mount: z.optional(
    checked((v) =>
      isMountPath(v) ? undefined : `${JSON.stringify(v)} is not a mount path such as k8s/prod/kv`,
    ),
  ),
});
