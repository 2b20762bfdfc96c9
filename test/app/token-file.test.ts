/**
 * readTokenFile against hostile token files (issue 13): NUL or binary bytes, a FIFO, a huge file. Each is a
 * config error (exit 3) naming the file and never its content.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTokenFile, resolveToken } from '../../src/app/token.js';
import { AgentError, ExitCode } from '../../src/errors.js';
import { createMemoryLogger } from '../support/memory-logger.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vpa-token-file-'));
  file = join(dir, 'token');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(): Promise<AgentError> {
  try {
    await readTokenFile(file, 'vault.tokenFile', createMemoryLogger());
  } catch (e) {
    if (AgentError.is(e)) return e;
    throw e;
  }
  throw new Error('expected the token file to be refused');
}

describe('readTokenFile: hostile content', () => {
  it('a NUL byte inside the token: exit 3, the file named, the content not', async () => {
    writeFileSync(file, 'hvs.SECRETPART\0tail\n', { mode: 0o600 });
    const e = await refusal();
    expect(e.exitCode).toBe(ExitCode.config);
    expect(e.message).toBe(
      `token file ${file} (vault.tokenFile) holds bytes no Vault token contains (NUL, control or non-ASCII ` +
        'characters): is it the right file, written as text?',
    );
    expect(e.message).not.toContain('SECRETPART');
  });

  it('binary bytes (random, and a UTF-8 non-ASCII token): exit 3', async () => {
    for (const content of [randomBytes(256), Buffer.from('hvs.tökén\n')]) {
      writeFileSync(file, content, { mode: 0o600 });
      const e = await refusal();
      expect(e.exitCode).toBe(ExitCode.config);
      expect(e.message).toMatch(/holds bytes no Vault token contains|is empty/);
    }
  });

  it('a FIFO: refused at once (not waited on), exit 3', async () => {
    execFileSync('mkfifo', ['-m', '600', file]);
    const e = await refusal();
    expect(e.exitCode).toBe(ExitCode.config);
    expect(e.message).toBe(`token file ${file} (vault.tokenFile) is a FIFO (named pipe), not a regular file`);
  });

  it('a file of 1 MiB: refused, exit 3', async () => {
    writeFileSync(file, 'a'.repeat(1024 * 1024), { mode: 0o600 });
    const e = await refusal();
    expect(e.exitCode).toBe(ExitCode.config);
    expect(e.message).toMatch(/is larger than 64 KiB/);
  });

  it('a plain token with a trailing newline still reads', async () => {
    writeFileSync(file, 'hvs.CAESIabc-_.123\n', { mode: 0o600 });
    const source = await readTokenFile(file, 'vault.tokenFile', createMemoryLogger());
    expect(source.token).toBe('hvs.CAESIabc-_.123');
  });
});

describe('resolveToken: VAULT_TOKEN', () => {
  it('a VAULT_TOKEN with non-ASCII or control characters: exit 3, the value not shown', async () => {
    for (const value of ['hvs.abc\u00e9SECRET', 'hvs.abc\u0007SECRET', 'hvs.a SECRET']) {
      const error = await resolveToken({ env: { VAULT_TOKEN: value }, log: createMemoryLogger() }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(AgentError.is(error) && error.exitCode).toBe(ExitCode.config);
      expect((error as Error).message).toBe(
        'VAULT_TOKEN holds characters no Vault token contains (blanks, control or non-ASCII)',
      );
    }
  });
});
