/**
 * `exec:` actions: argv run directly by the program runner (util/program.ts: no shell, so `$(...)`, globs and
 * quotes in arguments stay literal; killed at the timeout; Vault credentials in the agent's environment not
 * passed on), with VPA_CERT_NAME and VPA_CERT_DIR added. Failures become WriteError('action-failed', exit 6)
 * in the runner's wording, naming the program and the certificate.
 */

import { WriteError } from '../errors.js';
import { ProgramError, runProgram } from '../util/program.js';

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
  const [program] = argv;
  if (!program) throw new WriteError('action-failed', 'exec action has an empty argv');
  try {
    await runProgram(argv, {
      label: `exec action ${program} for ${env.VPA_CERT_NAME}`,
      timeoutMs,
      env: { VPA_CERT_NAME: env.VPA_CERT_NAME, VPA_CERT_DIR: env.VPA_CERT_DIR },
    });
  } catch (error) {
    if (!(error instanceof ProgramError)) throw error;
    throw new WriteError('action-failed', error.message, {
      cause: error,
      details: { program, cert: env.VPA_CERT_NAME, exitCode: error.exitCode, timedOut: error.timedOut },
    });
  }
}
