/**
 * The program runner with real processes: what a child receives (argv, environment), and the one failure
 * wording for every way a program can fail to answer.
 */
import { describe, expect, it } from 'vitest';
import { childEnvironment, ProgramError, runProgram } from '../../src/util/program.js';

const node = (script: string, ...args: string[]) => [process.execPath, '-e', script, ...args];

async function failure(promise: Promise<unknown>): Promise<ProgramError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProgramError);
  return error as ProgramError;
}

describe('runProgram', () => {
  it('passes argv literally (no shell) and returns exit code and output', async () => {
    const tricky = ['$(echo no)', '; echo no', 'a b', '*'];
    const result = await runProgram(node('console.log(JSON.stringify(process.argv.slice(1)))', ...tricky), {
      timeoutMs: 10_000,
    });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(tricky);
  });

  it('a non-zero exit: "<label> failed with exit code N: <stderr tail>", with its code on the error', async () => {
    const error = await failure(
      runProgram(node('console.error("line 1\\nline 2\\nline 3"); process.exit(4)'), {
        label: 'my-hook for etcd',
        timeoutMs: 10_000,
      }),
    );
    expect(error.message).toBe('my-hook for etcd failed with exit code 4: line 2 line 3');
    expect(error.exitCode).toBe(4);
    expect(error.timedOut).toBe(false);
    expect(error.program).toBe(process.execPath);
  });

  it('exit codes listed as answers resolve instead of failing; "any" takes every exit code', async () => {
    const exit2 = node('process.exit(2)');
    expect((await runProgram(exit2, { timeoutMs: 10_000, answers: [2] })).exitCode).toBe(2);
    expect((await runProgram(exit2, { timeoutMs: 10_000, answers: 'any' })).exitCode).toBe(2);
    await failure(runProgram(exit2, { timeoutMs: 10_000, answers: [3] }));
  });

  it('a timeout kills the program, even one that ignores SIGTERM, whatever answers are allowed', async () => {
    const started = Date.now();
    const error = await failure(
      runProgram(node('process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'), {
        label: 'stubborn',
        timeoutMs: 300,
        answers: 'any',
      }),
    );
    expect(error.message).toBe('stubborn timed out after 300ms and was killed');
    expect(error.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('a program killed by a signal, and a program that does not exist', async () => {
    const killed = await failure(
      runProgram(node('process.kill(process.pid, "SIGKILL")'), { label: 'k', timeoutMs: 10_000 }),
    );
    expect(killed.message).toBe('k was killed by SIGKILL');
    const missing = await failure(runProgram(['/nonexistent/tool', '--x'], { timeoutMs: 10_000 }));
    expect(missing.message).toBe('/nonexistent/tool --x could not be run (ENOENT)');
    const empty = await failure(runProgram([], { label: 'nothing', timeoutMs: 10_000 }));
    expect(empty.message).toBe('nothing has an empty argv');
  });

  it('stderr and the default label are redacted like a log line', async () => {
    const token = `hvs.${'A'.repeat(24)}`;
    const error = await failure(
      runProgram(node(`console.error("using ${token}"); process.exit(1)`, token), { timeoutMs: 10_000 }),
    );
    expect(error.message).toContain('using [redacted token]');
    expect(error.message).not.toContain(token);
  });

  it("the child gets the agent's environment minus Vault credentials, plus what the caller adds", async () => {
    const saved = { ...process.env };
    process.env.VAULT_TOKEN = 's.must-not-pass';
    process.env.BAO_TOKEN = 's.must-not-pass';
    process.env.VAULT_ADDR = 'https://vault:8200';
    process.env.VPA_HARMLESS = 'kept';
    try {
      const result = await runProgram(node('console.log(JSON.stringify(process.env))'), {
        timeoutMs: 10_000,
        env: { VPA_CERT_NAME: 'etcd-peer' },
      });
      const env = JSON.parse(result.stdout) as Record<string, string>;
      expect(env).toMatchObject({
        VPA_HARMLESS: 'kept',
        VAULT_ADDR: 'https://vault:8200',
        VPA_CERT_NAME: 'etcd-peer',
      });
      expect(env.VAULT_TOKEN).toBeUndefined();
      expect(env.BAO_TOKEN).toBeUndefined();
      expect(result.stdout).not.toContain('must-not-pass');
    } finally {
      for (const name of ['VAULT_TOKEN', 'BAO_TOKEN', 'VAULT_ADDR', 'VPA_HARMLESS']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});

describe('childEnvironment', () => {
  it('drops every VAULT_/BAO_ variable named like a credential, nothing else', () => {
    const env = childEnvironment(
      { EXTRA: '1' },
      {
        VAULT_TOKEN: 'x',
        bao_token: 'x',
        VAULT_WRAPPED_SECRET_ID: 'x',
        BAO_CLIENT_PASSWORD: 'x',
        VAULT_ADDR: 'a',
        PATH: '/bin',
        MY_TOKEN: 'kept',
      },
    );
    expect(env).toEqual({ VAULT_ADDR: 'a', PATH: '/bin', MY_TOKEN: 'kept', EXTRA: '1' });
  });
});
