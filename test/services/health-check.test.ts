/**
 * The TLS health check reads the set's files, which may belong to the consumer (key.pem does): a file grown to
 * gigabytes or a FIFO must fail the check at once with a clear error, never exhaust or stall the root agent.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { runHealthCheck } from '../../src/services/health-check.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function files() {
  const dir = mkdtempSync(join(tmpdir(), 'vpa-health-'));
  dirs.push(dir);
  const f = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'ca.pem') };
  for (const p of Object.values(f)) writeFileSync(p, 'x');
  return f;
}

const check = { tls: '127.0.0.1:9', timeoutMs: 2000 };

describe('TLS health check reading the set', () => {
  it('a key.pem grown past any real key (the consumer owns it) fails the check at once, bounded', async () => {
    const f = files();
    truncateSync(f.key, 3 * 1024 * 1024 * 1024); // sparse 3 GiB: a whole read would be exit 1 (> 2 GiB)
    const error = await runHealthCheck('sa', check, f).catch((e: unknown) => e);
    expect(AgentError.is(error) && error.code).toBe('health-check-failed');
    expect(String((error as Error).message)).toMatch(/cannot read .*key\.pem: is larger than 4 MiB/);
    expect(process.memoryUsage().rss).toBeLessThan(1024 * 1024 * 1024);
  });

  it('a FIFO at key.pem fails the check at once instead of blocking the agent', async () => {
    const f = files();
    rmSync(f.key);
    execFileSync('mkfifo', [f.key]);
    const error = await runHealthCheck('sa', check, f).catch((e: unknown) => e);
    expect(AgentError.is(error) && error.code).toBe('health-check-failed');
    expect(String((error as Error).message)).toMatch(/key\.pem: is a FIFO/);
  });
});

describe('command health check', () => {
  it("a failing command is reported in the program runner's wording", async () => {
    const command = [process.execPath, '-e', 'console.error("not listening"); process.exit(3)'];
    const error = await runHealthCheck('etcd-peer', { command, timeoutMs: 600 }, files()).catch(
      (e: unknown) => e,
    );
    expect(AgentError.is(error) && error.code).toBe('health-check-failed');
    expect(String((error as Error).message)).toBe(
      `certificate "etcd-peer": health check failed (command ${process.execPath}) for 1s: ` +
        `${process.execPath} failed with exit code 3: not listening`,
    );
  });
});
