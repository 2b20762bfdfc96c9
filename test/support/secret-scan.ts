/**
 * The suite-wide secret scan (docs/SECURITY.md "Logs"): every agent process the tests run through
 * runAgent/startAgent has its stdout and stderr appended to a per-run output file, every token the
 * helpers mint is registered in a per-run secrets file, and global-setup's teardown fails the run if
 * any registered token or any private-key PEM block appears in that output. Findings name the file,
 * line and agent command, never the secret.
 *
 * Exemption: the stdout of `kube-credential`, which is an ExecCredential carrying the client key by
 * design (kubectl reads it from the pipe). Its stderr is scanned like every other stream.
 *
 * Files live under .cache/test-run/, named by VPA_TEST_RUN_ID (set by global-setup); without a run id
 * (helpers used outside vitest, e.g. by bench/) nothing is recorded.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RUN_ID_VAR } from './guarded-process.js';

// Same directory as openbao.ts RUN_DIR (not imported: openbao.ts imports this file).
const RUN_DIR = resolve(import.meta.dirname, '..', '..', '.cache', 'test-run');

const runId = (): string | undefined => process.env[RUN_ID_VAR];
export const agentOutputFile = (id: string): string => join(RUN_DIR, `agent-output-${id}.log`);
export const secretsFile = (id: string): string => join(RUN_DIR, `secrets-${id}.txt`);

/** Commands whose stdout carries a private key on purpose. */
const KEY_ON_STDOUT = new Set(['kube-credential']);
const HEADER = '#### vault-pki-agent output ';

/** Register a token the helpers minted: the scan fails the run if an agent ever prints it. */
export function registerTestSecret(value: string | undefined): void {
  const id = runId();
  if (!id || !value || value.length < 8) return;
  mkdirSync(RUN_DIR, { recursive: true });
  appendFileSync(secretsFile(id), `${value}\n`, { mode: 0o600 });
}

/** Append one agent process's output (called once per stream when it exits: one write, no interleaving). */
export function recordAgentOutput(args: readonly string[], stream: 'stdout' | 'stderr', text: string): void {
  const id = runId();
  if (!id || text === '') return;
  mkdirSync(RUN_DIR, { recursive: true });
  const exempt = stream === 'stdout' && KEY_ON_STDOUT.has(args[0] ?? '') ? ' exempt=private-key' : '';
  const header = `${HEADER}${JSON.stringify({ command: args[0] ?? '', stream, worker: process.pid })}${exempt}`;
  appendFileSync(agentOutputFile(id), `${header}\n${text}${text.endsWith('\n') ? '' : '\n'}`);
}

export interface SecretFinding {
  file: string;
  line: number;
  /** The block header: command and stream. */
  source: string;
  what: string;
}

/** Scans this run's agent output for registered tokens and private-key blocks. */
export function scanAgentOutput(id: string): { findings: SecretFinding[]; lines: number } {
  const file = agentOutputFile(id);
  if (!existsSync(file)) return { findings: [], lines: 0 };
  const secrets = existsSync(secretsFile(id))
    ? [...new Set(readFileSync(secretsFile(id), 'utf8').split('\n').filter(Boolean))]
    : [];
  const findings: SecretFinding[] = [];
  let source = '';
  let exempt = false;
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((text, i) => {
    if (text.startsWith(HEADER)) {
      source = text.slice(HEADER.length);
      exempt = source.endsWith(' exempt=private-key');
      return;
    }
    const at = { file, line: i + 1, source };
    secrets.forEach((secret, n) => {
      if (text.includes(secret)) findings.push({ ...at, what: `registered token #${n + 1}` });
    });
    if (!exempt && /PRIVATE KEY-----/.test(text)) findings.push({ ...at, what: 'a private-key PEM line' });
  });
  return { findings, lines: lines.length };
}

/** For global-setup's teardown: a message per finding (no secret in it), or undefined when clean. */
export function secretScanFailure(id: string): string | undefined {
  const { findings, lines } = scanAgentOutput(id);
  // The secrets file holds live test tokens: not kept after the scan.
  rmSync(secretsFile(id), { force: true });
  if (findings.length === 0) {
    console.log(
      `[vault-pki-agent tests] secret scan: ${lines} lines of agent output, no token or private key`,
    );
    return undefined;
  }
  return `secret scan: ${findings.length} finding(s) in agent output:\n${findings
    .slice(0, 50)
    .map((f) => `  ${f.file}:${f.line} ${f.what} (${f.source})`)
    .join('\n')}`;
}
