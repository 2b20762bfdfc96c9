/**
 * The suite-wide secret scan (test/support/secret-scan.ts) can fail: fed output with a registered
 * token or a private key it reports the file, line and command without repeating the secret; the
 * one exemption (kube-credential's stdout) holds and stays narrow.
 */
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RUN_ID_VAR } from '../support/guarded-process.js';
import {
  agentOutputFile,
  recordAgentOutput,
  registerTestSecret,
  scanAgentOutput,
  secretScanFailure,
  secretsFile,
} from '../support/secret-scan.js';

const TOKEN = 'hvs.SCANNERselfTESTtoken0123456789';
const KEY =
  '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';
let realRunId: string | undefined;
let id: string;

beforeEach(() => {
  realRunId = process.env[RUN_ID_VAR];
  id = `selftest-${process.pid}-${Date.now()}`;
  // A private run id: this test's planted secrets must not fail the real run's scan.
  process.env[RUN_ID_VAR] = id;
  registerTestSecret(TOKEN);
});
afterEach(() => {
  // Assigning undefined to process.env would store the string "undefined".
  if (realRunId === undefined) delete process.env[RUN_ID_VAR];
  else process.env[RUN_ID_VAR] = realRunId;
  rmSync(agentOutputFile(id), { force: true });
  rmSync(secretsFile(id), { force: true });
});

describe('secret scan of agent output', () => {
  it('clean output: no finding', () => {
    recordAgentOutput(['bootstrap'], 'stderr', 'time=x level=info msg="issued" certificate=apiserver\n');
    recordAgentOutput(['status'], 'stdout', 'apiserver  CN=kube-apiserver\n');
    expect(scanAgentOutput(id).findings).toEqual([]);
  });

  it('a registered token in stderr: found with its line, the message does not repeat it', () => {
    recordAgentOutput(['bootstrap'], 'stderr', 'line one\n');
    recordAgentOutput(['run'], 'stderr', `ok\nmsg="using token ${TOKEN}"\n`);
    const { findings } = scanAgentOutput(id);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ line: 5, what: 'registered token #1' });
    expect(findings[0]!.source).toContain('"command":"run"');
    const message = secretScanFailure(id);
    expect(message).toContain(`${agentOutputFile(id)}:5 registered token #1`);
    expect(message).not.toContain(TOKEN);
  });

  it('a private key: found in any stream except the stdout of kube-credential', () => {
    recordAgentOutput(
      ['kube-credential', '--cluster', 'c1'],
      'stdout',
      `{"clientKeyData":${JSON.stringify(KEY)}}\n`,
    );
    recordAgentOutput(['kube-credential', '--cluster', 'c1'], 'stdout', KEY);
    expect(scanAgentOutput(id).findings).toEqual([]);
    recordAgentOutput(['kube-credential', '--cluster', 'c1'], 'stderr', KEY);
    recordAgentOutput(['bootstrap'], 'stdout', KEY);
    const { findings } = scanAgentOutput(id);
    expect(findings.map((f) => f.what)).toEqual(Array(4).fill('a private-key PEM line'));
    expect(findings.map((f) => JSON.parse(f.source).command)).toEqual([
      'kube-credential',
      'kube-credential',
      'bootstrap',
      'bootstrap',
    ]);
  });

  it('without a run id nothing is recorded (helpers used outside vitest)', () => {
    delete process.env[RUN_ID_VAR];
    recordAgentOutput(['bootstrap'], 'stderr', TOKEN);
    process.env[RUN_ID_VAR] = id;
    expect(scanAgentOutput(id).findings).toEqual([]);
  });
});
