/**
 * `kube-credential --cluster C`: the kubectl exec plugin. Prints an ExecCredential with a client
 * certificate from `k8s/<cluster>/pki` (role `engineer`), served from a 0600 cache until a third of its
 * lifetime is left: then a new key is generated here and only its CSR goes to Vault.
 * kubectl shows the plugin's stderr to the engineer, so failures are one plain line, never a stack trace.
 */

import { X509Certificate } from 'node:crypto';
import { defaultMountNaming } from '../config/presets.js';
import { AgentError, ExitCode, exitCodeOf } from '../errors.js';
import {
  credentialCacheDir,
  credentialCacheFile,
  hashToken,
  readCredentialCache,
  writeCredentialCache,
} from '../kube/credential-cache.js';
import {
  buildExecCredential,
  type CachedCredential,
  isCredentialFresh,
  matchesCache,
} from '../kube/exec-credential.js';
import { createLogger, redact } from '../log.js';
import type { CliIo } from './cli-context.js';
import { issueEngineerCertificate } from './engineer-certificate.js';
import { openSession, type SessionArgs, sessionAuth, sessionSettings } from './vault-session.js';

export interface KubeCredentialArgs extends SessionArgs {
  cluster: string;
  mount?: string;
  role?: string;
  commonName?: string;
  ttl?: string;
}

/** Engineers wait on kubectl: retry an unreachable Vault for at most this long. */
const MAX_WAIT_MS = 30_000;

export const LOGIN_HINT = 'log in again with `vault login` (or `bao login`)';

function cachedValidity(cached: CachedCredential): { notBefore: Date; notAfter: Date } | undefined {
  try {
    const cert = new X509Certificate(cached.certificatePem);
    return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
  } catch {
    return undefined;
  }
}

async function produceCredential(args: KubeCredentialArgs, io: CliIo): Promise<string> {
  // Quiet by default: anything on stderr lands in the engineer's terminal.
  const log = createLogger({
    level: args.logLevel === 'debug' ? 'debug' : 'warn',
    format: args.logFormat,
    write: (l) => io.stderr(`${l}\n`),
  });
  const settings = sessionSettings(args, io, log);
  const mount = args.mount ?? defaultMountNaming(args.cluster).kubernetes;
  const role = args.role ?? 'engineer';
  // The client makes no request until the cache has been checked: the token-file login asks Vault nothing.
  const vault = openSession(settings, undefined, args, log, { maxTimeoutMs: MAX_WAIT_MS });
  const { session } = await sessionAuth(args, io, log).login(vault);
  const want = { address: settings.address, mount, role, tokenHash: hashToken(session.token) };
  const dir = credentialCacheDir(io.env);
  const file = credentialCacheFile(dir, args.cluster, settings.address, mount);

  const cached = await readCredentialCache(file);
  if (matchesCache(cached, want)) {
    const validity = cachedValidity(cached);
    if (validity && isCredentialFresh(validity, new Date())) {
      log.debug('credential served from cache', { file, not_after: validity.notAfter.toISOString() });
      return JSON.stringify(buildExecCredential(cached.certificatePem, cached.keyPem, validity.notAfter));
    }
  }

  const cert = await issueEngineerCertificate(vault, {
    mount,
    role,
    commonName: args.commonName,
    ttl: args.ttl,
  });
  const record: CachedCredential = {
    version: 1,
    ...want,
    certificatePem: cert.certificatePem,
    keyPem: cert.keyPem,
  };
  await writeCredentialCache(file, dir, record);
  log.debug('credential issued', {
    cn: cert.commonName,
    serial: cert.serial,
    not_after: cert.notAfter.toISOString(),
  });
  return JSON.stringify(buildExecCredential(cert.certificatePem, cert.keyPem, cert.notAfter));
}

export async function runKubeCredential(args: KubeCredentialArgs, io: CliIo): Promise<number> {
  try {
    io.stdout(`${await produceCredential(args, io)}\n`);
    return ExitCode.ok;
  } catch (error) {
    const prefix = 'vault-pki-agent kube-credential:';
    if (AgentError.is(error) && error.code === 'token-invalid') {
      io.stderr(`${prefix} your Vault token is expired or revoked: ${LOGIN_HINT}\n`);
      return ExitCode.vaultRefused;
    }
    const message = AgentError.is(error)
      ? error.message
      : `internal error: ${(error as Error)?.message ?? String(error)}`;
    const hint = /no Vault token/.test(message) ? `; ${LOGIN_HINT}` : '';
    io.stderr(`${prefix} ${redact(message).replace(/\s*\n\s*/g, ' ')}${hint}\n`);
    return exitCodeOf(error);
  }
}
