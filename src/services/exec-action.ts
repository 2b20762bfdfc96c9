/**
 * `exec:` actions: argv run directly (no shell, so `$(...)`, globs and quotes in arguments stay
 * literal), with VPA_CERT_NAME and VPA_CERT_DIR added to the agent's environment, killed at the
 * timeout; Vault credentials in that environment are not passed on (child-env.ts). Failures become WriteError('action-failed', exit 6) naming the program.
 */

import { WriteError } from '../errors.js';
import { childEnvironment } from './child-env.js';
import { loadExeca } from './load-execa.js';
import { tailOf } from './service-manager.js';

export interface ExecActionEnv {
  VPA_CERT_NAME: string;
  VPA_CERT_DIR: string;
}

export const DEFAULT_EXEC_TIMEOUT_MS = 90_000;

export async function runExecAction(
  argv: readonly string[],
  env: ExecActionEnv,
  timeoutMs: number = DEFAULT_EXEC_TIMEOUT_MS,
): Promise<void> {
  const [program, ...args] = argv;
  if (!program) throw new WriteError('action-failed', 'exec action has an empty argv');
  const execa = await loadExeca();
  const result = await execa(program, args, {
    reject: false,
    shell: false,
    stdin: 'ignore',
    env: childEnvironment({ VPA_CERT_NAME: env.VPA_CERT_NAME, VPA_CERT_DIR: env.VPA_CERT_DIR }),
    extendEnv: false,
    timeout: timeoutMs,
    killSignal: 'SIGTERM',
    forceKillAfterDelay: 2000,
  });
  if (!result.failed) return;
  let reason: string;
  if (result.timedOut) reason = `timed out after ${timeoutMs}ms and was killed`;
  else if (result.exitCode !== undefined) reason = `failed with exit code ${result.exitCode}`;
  else if (result.signal) reason = `was killed by ${result.signal}`;
  else reason = `could not be run (${result.code ?? result.shortMessage})`;
  const tail = tailOf(typeof result.stderr === 'string' ? result.stderr : '');
  throw new WriteError(
    'action-failed',
    `exec action ${program} for ${env.VPA_CERT_NAME} ${reason}${tail ? `: ${tail}` : ''}`,
    { details: { program, cert: env.VPA_CERT_NAME, exitCode: result.exitCode, timedOut: result.timedOut } },
  );
}
