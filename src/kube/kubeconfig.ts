/**
 * Kubeconfig merge (pure): add or replace one cluster, one user and one context, keep every other entry
 * and key as it was, and touch `current-context` only when asked (or when the file has none).
 */
import { parse, stringify } from 'yaml';
import { ConfigError } from '../errors.js';

export interface ExecUser {
  kind: 'exec';
  command: string;
  args: string[];
  env: { name: string; value: string }[];
}

export interface EmbeddedUser {
  kind: 'embedded';
  /** PEM: the client certificate (and intermediates). */
  certificatePem: string;
  /** PEM private key. Secret. */
  keyPem: string;
}

export interface KubeconfigEntry {
  clusterName: string;
  server: string;
  /** PEM CA bundle that signs the API server's certificate. */
  caPem: string;
  userName: string;
  user: ExecUser | EmbeddedUser;
  contextName: string;
  /** Make the new context current even when another one is. */
  useContext: boolean;
}

type Named = { name?: unknown } & Record<string, unknown>;

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

function upsert(
  list: unknown,
  name: string,
  key: string,
  value: Record<string, unknown>,
  what: string,
): Named[] {
  if (list !== undefined && list !== null && !Array.isArray(list)) {
    throw new ConfigError(`kubeconfig: "${what}" is not a list`);
  }
  const items = [...((list as Named[] | null | undefined) ?? [])];
  const index = items.findIndex((i) => i && i.name === name);
  if (index === -1) items.push({ name, [key]: value });
  else items[index] = { ...items[index], name, [key]: value };
  return items;
}

export function userStanza(user: ExecUser | EmbeddedUser): Record<string, unknown> {
  if (user.kind === 'embedded') {
    return { 'client-certificate-data': b64(user.certificatePem), 'client-key-data': b64(user.keyPem) };
  }
  return {
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: user.command,
      args: user.args,
      ...(user.env.length > 0 ? { env: user.env } : {}),
      interactiveMode: 'Never',
      provideClusterInfo: false,
      installHint:
        'vault-pki-agent gives short-lived client certificates from Vault: install it, then log in with `vault login` (or `bao login`)',
    },
  };
}

/** Returns the merged kubeconfig text. `existing` undefined or empty = a new file. */
export function mergeKubeconfig(existing: string | undefined, entry: KubeconfigEntry): string {
  let doc: Record<string, unknown> = {};
  if (existing !== undefined && existing.trim() !== '') {
    let parsed: unknown;
    try {
      // No pretty errors: they quote the offending line, which in a kubeconfig may be a key or a token.
      parsed = parse(existing, { prettyErrors: false });
    } catch (error) {
      const offset = (error as { pos?: [number, number] }).pos?.[0];
      const before = offset === undefined ? undefined : existing.slice(0, offset);
      const at =
        before === undefined
          ? ''
          : ` at line ${before.split('\n').length}, column ${offset! - before.lastIndexOf('\n')}`;
      throw new ConfigError(
        `kubeconfig is not valid YAML${at} (${(error as { code?: string }).code ?? 'parse error'})`,
      );
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed))
        throw new ConfigError('kubeconfig is not a mapping');
      doc = parsed as Record<string, unknown>;
    }
  }
  const out: Record<string, unknown> = { apiVersion: 'v1', kind: 'Config', ...doc };
  out.clusters = upsert(
    doc.clusters,
    entry.clusterName,
    'cluster',
    { server: entry.server, 'certificate-authority-data': b64(entry.caPem) },
    'clusters',
  );
  out.users = upsert(doc.users, entry.userName, 'user', userStanza(entry.user), 'users');
  out.contexts = upsert(
    doc.contexts,
    entry.contextName,
    'context',
    { cluster: entry.clusterName, user: entry.userName },
    'contexts',
  );
  if (entry.useContext || !doc['current-context']) out['current-context'] = entry.contextName;
  if (out.preferences === undefined) out.preferences = {};
  return stringify(out, { lineWidth: 0 });
}
