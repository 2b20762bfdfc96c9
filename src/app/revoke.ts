/**
 * `revoke`: decommission. Revokes the node's current certificates in Vault by their PEM, proving possession
 * with the set's own key (`<mount>/revoke-with-key`), so a node token can revoke what this node holds and
 * nothing another node holds; it works on roles that store no certificates (`no_store`). Changes no file:
 * the instance is going away, and its units may still be stopping.
 */
import { AgentError, ExitCode } from '../errors.js';
import { readCertificateSet } from '../files/read-set.js';
import { inspectCertificate } from '../pki/inspect.js';
import { type CliIo, loggerFor } from './cli-context.js';
import { type BootstrapArgs, connect, selectCertificates } from './wiring.js';

export type RevokeArgs = Pick<BootstrapArgs, 'only'> & Omit<BootstrapArgs, 'dryRun'>;

export async function runRevoke(args: RevokeArgs, io: CliIo): Promise<number> {
  const log = loggerFor(args, io);
  const { config: full, vault } = await connect(args, io, log, { needToken: true, lookupToken: false });
  const config = selectCertificates(full, args.only);
  let failure: AgentError | undefined;
  for (const spec of config.certificates) {
    const reading = await readCertificateSet(spec.files);
    const { cert, key } = reading.files;
    if (!cert || !key) {
      io.stdout(`${spec.name}: nothing to revoke (no certificate and key in ${spec.files.dir})\n`);
      continue;
    }
    let serial: string;
    try {
      serial = inspectCertificate(cert).serial;
    } catch (error) {
      io.stdout(`${spec.name}: not revoked: ${(error as Error).message}\n`);
      failure ??= AgentError.is(error) ? error : undefined;
      continue;
    }
    try {
      const res = await vault.write(`${spec.mount}/revoke-with-key`, { certificate: cert, private_key: key });
      for (const warning of res.warnings) log.warn('vault warning', { certificate: spec.name, warning });
      io.stdout(`${spec.name}: revoked serial ${serial} (${spec.mount})\n`);
      log.info('certificate revoked', { certificate: spec.name, serial, mount: spec.mount });
    } catch (error) {
      if (!AgentError.is(error)) throw error;
      io.stdout(`${spec.name}: not revoked: ${error.message}\n`);
      log.error('revoke failed', { certificate: spec.name, serial, code: error.code });
      failure ??= error;
    }
  }
  return failure ? failure.exitCode : ExitCode.ok;
}
