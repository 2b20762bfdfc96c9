/**
 * The one way the agent runs a program (systemctl, exec actions, health-check commands, getent): argv arrays,
 * never a shell; stdin closed; killed at its timeout (SIGTERM, then SIGKILL 2 s later); and one environment
 * rule: the child gets the agent's environment minus the Vault credentials in it (`childEnvironment`). A token
 * given to the agent through VAULT_TOKEN is the agent's alone: a restart hook would otherwise inherit it and keep
 * it readable in /proc/<pid>/environ for as long as that child, or anything it forks, lives.
 *
 * One failure wording, whoever runs the program: `<label> failed with exit code N: <stderr tail>`,
 * `<label> timed out after Nms and was killed`, `<label> was killed by SIGx`, `<label> could not be run (ENOENT)`.
 * The stderr tail is redacted like a log line (it ends up in errors, the pass summary and the state file).
 */
import { redact } from '../log.js';

/** VAULT_TOKEN, BAO_TOKEN and any other VAULT_ or BAO_ variable named like a credential. */
const CREDENTIAL_VAR = /^(VAULT|BAO)_\w*(TOKEN|SECRET|PASSWORD|PASSPHRASE)/i;

/** The whole environment a child gets: the agent's (`parent`) minus credentials, plus `extra`. */
export function childEnvironment(
  extra: Record<string, string> = {},
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && !CREDENTIAL_VAR.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

/** The last non-empty lines of a program's stderr, redacted and short enough for one log line. */
export function tailOf(stderr: string, lines = 2): string {
  const tail = redact(stderr)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(' ');
  return tail.length > 400 ? `…${tail.slice(-400)}` : tail;
}

export interface ProgramOptions {
  /** How a failure names the call (`systemctl restart etcd.service`); default: the program and its arguments. */
  label?: string;
  /** Killed (SIGTERM, then SIGKILL after 2 s) once this runs out. */
  timeoutMs: number;
  /** Added to the child's environment (see `childEnvironment`). */
  env?: Record<string, string>;
  /** Exit codes that are answers, not failures (getent: 2 = not found); `any` = every exit code is an answer. */
  answers?: readonly number[] | 'any';
}

export interface ProgramResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A program that did not give an answer: its message is the one failure wording (see the top of this file). */
export class ProgramError extends Error {
  constructor(
    message: string,
    readonly program: string,
    readonly exitCode: number | undefined,
    readonly timedOut: boolean,
  ) {
    super(message);
    this.name = 'ProgramError';
  }
}

/** `label` when given, else the program and its arguments (redacted, cut at 120 characters). */
function labelOf(argv: readonly string[], label: string | undefined): string {
  if (label !== undefined) return label;
  const text = redact(argv.join(' '));
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

/**
 * Runs `argv` and resolves its exit code and output when it exits 0 (or with one of `answers`); throws a
 * ProgramError otherwise: another exit code, a signal, the timeout, or a program that could not be started.
 */
export async function runProgram(argv: readonly string[], options: ProgramOptions): Promise<ProgramResult> {
  const [program, ...args] = argv;
  const label = labelOf(argv, options.label);
  if (!program) throw new ProgramError(`${label} has an empty argv`, '', undefined, false);
  // Loaded here: most runs (nothing due, nothing to restart) start no child, and execa costs ~10 ms to evaluate.
  const { execa } = await import('execa');
  const result = await execa(program, args, {
    reject: false,
    shell: false,
    stdin: 'ignore',
    env: childEnvironment(options.env),
    extendEnv: false,
    timeout: options.timeoutMs,
    killSignal: 'SIGTERM',
    // A program that ignores SIGTERM (systemctl waiting for its job) is not waited for either.
    forceKillAfterDelay: 2000,
  });
  const stdout = typeof result.stdout === 'string' ? result.stdout : '';
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  const exitCode = result.exitCode;
  if (!result.timedOut && exitCode !== undefined) {
    const { answers = [] } = options;
    if (exitCode === 0 || answers === 'any' || answers.includes(exitCode))
      return { exitCode, stdout, stderr };
  }
  let reason: string;
  if (result.timedOut) reason = `timed out after ${options.timeoutMs}ms and was killed`;
  else if (exitCode !== undefined) reason = `failed with exit code ${exitCode}`;
  else if (result.signal) reason = `was killed by ${result.signal}`;
  else reason = `could not be run (${result.code ?? result.shortMessage})`;
  const tail = tailOf(stderr);
  throw new ProgramError(`${label} ${reason}${tail ? `: ${tail}` : ''}`, program, exitCode, result.timedOut);
}
