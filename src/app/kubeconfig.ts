/**
 * `kubeconfig --cluster C --server URL`: adds or updates the cluster (CA read from the mount), the user
 * and the context in a kubeconfig, keeping every other entry; written atomically, 0600. The default user
 * runs `vault-pki-agent kube-credential`; `--embed` writes a certificate and key into the file instead.
 */

import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { defaultMountNaming } from '../config/presets.js';
import { ExitCode, UsageError, WriteError } from '../errors.js';
import { mkdir, readFile, realpath } from '../files/local-fs.js';
import { type EmbeddedUser, type ExecUser, mergeKubeconfig } from '../kube/kubeconfig.js';
import { type CliIo, loggerFor } from './cli-context.js';
import { issueEngineerCertificate } from './engineer-certificate.js';
import { writeSecretFile } from './token.js';
import { openSession, type SessionArgs, sessionAuth, sessionSettings } from './vault-session.js';

export interface KubeconfigArgs extends SessionArgs {
  cluster: string;
  server: string;
  user?: string;
  context?: string;
  embed?: boolean;
  kubeconfig?: string;
  useContext?: boolean;
  mount?: string;
  commonName?: string;
  ttl?: string;
  execCommand?: string;
}

/** Like kubectl: --kubeconfig, else the first file in $KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPath(flag: string | undefined, env: Record<string, string | undefined>): string {
  if (flag) return resolve(flag);
  const first = env.KUBECONFIG?.split(':').find((p) => p.trim() !== '');
  if (first) return resolve(first);
  return join(env.HOME?.trim() || homedir(), '.kube', 'config');
}

async function readExisting(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WriteError('write-failed', `cannot read kubeconfig ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export async function runKubeconfig(args: KubeconfigArgs, io: CliIo): Promise<number> {
  const log = loggerFor(args, io);
  let server: URL;
  try {
    server = new URL(args.server);
  } catch {
    throw new UsageError(`--server "${args.server}" is not a URL such as https://api.example:6443`);
  }
  if (server.protocol !== 'https:')
    throw new UsageError(`--server ${args.server}: the API server URL must be https`);
  const settings = sessionSettings(args, io, log);
  const mount = args.mount ?? defaultMountNaming(args.cluster).kubernetes;
  const userName = args.user ?? `${args.cluster}-vault`;
  const contextName = args.context ?? args.cluster;

  let user: ExecUser | EmbeddedUser;
  const vault = openSession(settings, undefined, args, log);
  if (args.embed) {
    await sessionAuth(args, io, log).login(vault);
    const cert = await issueEngineerCertificate(vault, {
      mount,
      role: 'engineer',
      commonName: args.commonName,
      ttl: args.ttl,
    });
    log.info('client certificate issued', { cn: cert.commonName, not_after: cert.notAfter.toISOString() });
    user = { kind: 'embedded', certificatePem: cert.certificatePem, keyPem: cert.keyPem };
  } else {
    const pluginArgs = ['kube-credential', '--cluster', args.cluster];
    if (args.mount) pluginArgs.push('--mount', args.mount);
    if (args.commonName) pluginArgs.push('--common-name', args.commonName);
    const env = [{ name: 'VAULT_ADDR', value: settings.address }];
    if (settings.caCertFile) env.push({ name: 'VAULT_CACERT', value: resolve(settings.caCertFile) });
    if (settings.namespace) env.push({ name: 'VAULT_NAMESPACE', value: settings.namespace });
    user = { kind: 'exec', command: args.execCommand ?? 'vault-pki-agent', args: pluginArgs, env };
  }
  // The CA that signs the API server's certificate: unauthenticated read of the mount's chain.
  const caPem = (await vault.readCaChain(mount)).join('');

  let path = kubeconfigPath(args.kubeconfig, io.env);
  // Write through a symlinked kubeconfig to its target instead of replacing the link.
  path = await realpath(path).catch(() => path);
  const merged = mergeKubeconfig(await readExisting(path), {
    clusterName: args.cluster,
    server: args.server,
    caPem,
    userName,
    user,
    contextName,
    useContext: args.useContext ?? false,
  });
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeSecretFile(path, merged);
  } catch (error) {
    throw new WriteError('write-failed', `cannot write kubeconfig ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  io.stdout(`kubeconfig ${path}: context "${contextName}" (cluster "${args.cluster}", user "${userName}")\n`);
  return ExitCode.ok;
}
