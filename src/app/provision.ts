/**
 * `provision --cluster C [--plan]`: compute the cluster's desired Vault state from the presets, read
 * what exists, print the diff, and apply only the differences (`--plan` changes nothing).
 */

import { ConfigError, ExitCode, UsageError } from '../errors.js';
import { computeDesiredState } from '../provision/desired-state.js';
import { formatPlan, planChanges } from '../provision/diff.js';
import { type ProvisionFile, parseProvisionFile } from '../provision/provision-file.js';
import { resolveProvisionSettings } from '../provision/provision-settings.js';
import { provisionServiceAccountKey } from '../provision/service-account-key.js';
import { applyChanges, readObservedState } from '../provision/vault-state.js';
import { readSmallFile, SmallFileError } from '../util/small-file.js';
import type { VaultClient } from '../vault/vault-client.js';
import { type CliIo, loggerFor } from './cli-context.js';
import { openSession, type SessionArgs, sessionAuth, sessionSettings } from './vault-session.js';

export interface ProvisionArgs extends SessionArgs {
  cluster: string;
  plan?: boolean;
  parent?: string;
  engineerAuth?: string;
  provisionConfig?: string;
  rotateServiceAccountKey?: boolean;
}

export async function loadProvisionFile(path: string | undefined): Promise<ProvisionFile> {
  if (!path) return {};
  let text: string;
  try {
    // Regular files only, 1 MiB at most, never blocking (a FIFO or /dev/zero is refused at once).
    text = readSmallFile(path, 1024 * 1024).data.toString('utf8');
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new ConfigError(
      `cannot read provision config ${path}: ${e instanceof SmallFileError ? e.message : e.code}`,
      {
        cause: error,
      },
    );
  }
  return parseProvisionFile(text, path);
}

/** The accessor of the engineers' auth method (identity templates name the method by accessor). */
async function authAccessor(vault: VaultClient, mount: string): Promise<string> {
  const auth = (await vault.read('sys/auth'))?.data ?? {};
  const entry = auth[`${mount.replace(/\/+$/, '')}/`] as { accessor?: unknown } | undefined;
  if (typeof entry?.accessor !== 'string') {
    throw new UsageError(
      `--engineer-auth ${mount}: no auth method is enabled at that path (have: ${Object.keys(auth).join(', ') || 'none'})`,
    );
  }
  return entry.accessor;
}

export async function runProvision(args: ProvisionArgs, io: CliIo): Promise<number> {
  const log = loggerFor(args, io);
  const file = await loadProvisionFile(args.provisionConfig);
  // Validate flags and the file before any I/O with Vault.
  resolveProvisionSettings({ cluster: args.cluster, parent: args.parent }, file);
  const settings = sessionSettings(args, io, log);
  const vault = openSession(settings, undefined, args, log);
  await sessionAuth(args, io, log).login(vault);

  const engineerAuthAccessor = args.engineerAuth ? await authAccessor(vault, args.engineerAuth) : undefined;
  const provision = resolveProvisionSettings(
    { cluster: args.cluster, parent: args.parent, engineerAuthAccessor },
    file,
  );
  const desired = computeDesiredState(provision, vault.address);
  const observed = await readObservedState(vault, desired);
  const plan = planChanges(desired, observed);
  io.stdout(formatPlan(plan));
  if (!args.plan && plan.changes.length > 0) await applyChanges(vault, plan.changes, log);
  // The service-account key pair: reads only when it exists (a run without changes still writes nothing).
  const saLines = await provisionServiceAccountKey(
    vault,
    provision.cluster,
    { plan: args.plan === true, rotate: args.rotateServiceAccountKey === true },
    log,
  );
  if (saLines.length > 0) io.stdout(`${saLines.join('\n')}\n`);
  if (args.plan || plan.changes.length + saLines.length === 0) return ExitCode.ok;
  log.info('provision finished', {
    cluster: provision.cluster,
    changes: plan.changes.length + saLines.length,
  });
  return ExitCode.ok;
}
