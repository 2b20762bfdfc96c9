import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentError, ExitCode } from '../../src/errors.js';
import { runExecAction } from '../../src/services/exec-action.js';

// A real program that records exactly what it received.
const RECORDER = `require('node:fs').writeFileSync(process.env.OUT, JSON.stringify({
  args: process.argv.slice(1), name: process.env.VPA_CERT_NAME, dir: process.env.VPA_CERT_DIR }))`;

async function captureError(promise: Promise<unknown>): Promise<AgentError> {
  try {
    await promise;
  } catch (e) {
    if (AgentError.is(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('runExecAction', () => {
  it('passes argv literally (no shell) and exports VPA_CERT_NAME / VPA_CERT_DIR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpa-exec-'));
    const out = join(dir, 'out.json');
    const canary = join(dir, 'canary');
    const tricky = [`$(touch ${canary})`, `; touch ${canary}`, 'a b', '*', "'quoted'"];
    process.env.OUT = out;
    try {
      await runExecAction([process.execPath, '-e', RECORDER, ...tricky], {
        VPA_CERT_NAME: 'etcd-peer',
        VPA_CERT_DIR: '/etc/etcd/pki',
      });
    } finally {
      delete process.env.OUT;
    }
    const seen = JSON.parse(readFileSync(out, 'utf8'));
    expect(seen).toEqual({ args: tricky, name: 'etcd-peer', dir: '/etc/etcd/pki' });
    expect(existsSync(canary)).toBe(false);
  });

  it('a non-zero exit is a WriteError naming the program, the certificate and stderr', async () => {
    const error = await captureError(
      runExecAction([process.execPath, '-e', 'console.error("kubelet not ready"); process.exit(4)'], {
        VPA_CERT_NAME: 'kubelet-client',
        VPA_CERT_DIR: '/x',
      }),
    );
    expect(error.code).toBe('action-failed');
    expect(error.exitCode).toBe(ExitCode.writeOrAction);
    expect(error.message).toContain(
      `exec action ${process.execPath} for kubelet-client failed with exit code 4`,
    );
    expect(error.message).toContain('kubelet not ready');
  });

  it("a program's stderr in the error is redacted like a log line (token shapes, key blocks)", async () => {
    const token = `hvs.${'A'.repeat(24)}`;
    const error = await captureError(
      runExecAction([process.execPath, '-e', `console.error("using ${token}"); process.exit(1)`], {
        VPA_CERT_NAME: 'kubelet-client',
        VPA_CERT_DIR: '/x',
      }),
    );
    expect(error.message).toContain('using [redacted token]');
    expect(error.message).not.toContain(token);
  });

  it('a missing program names argv[0]', async () => {
    const error = await captureError(
      runExecAction(['/nonexistent/notify', '--x'], { VPA_CERT_NAME: 'a', VPA_CERT_DIR: '/x' }),
    );
    expect(error.message).toContain('exec action /nonexistent/notify for a could not be run');
  });

  it('kills a program that outlives its timeout', async () => {
    const error = await captureError(
      runExecAction(['sleep', '30'], { VPA_CERT_NAME: 'a', VPA_CERT_DIR: '/x' }, 200),
    );
    expect(error.message).toContain('exec action sleep for a timed out after 200ms and was killed');
  });
});
