import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../support/guarded-process.js';
import { REPO_ROOT, startOpenBao } from '../support/openbao.js';

describe('test OpenBao harness', () => {
  it('starts a dev server on a random port with a random root token and stops it', async () => {
    const vault = await startOpenBao({ name: 'harness' });
    const health = await vault.api('GET', 'sys/health');
    expect(health.body.initialized).toBe(true);
    expect(vault.rootToken).toMatch(/^root-[0-9a-f]{24}$/);
    const pid = vault.pid();
    expect(isAlive(pid)).toBe(true);
    await vault.stop();
    expect(isAlive(pid)).toBe(false);
  });

  it('leaves no orphan server when the process that started it is SIGKILLed', async () => {
    const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const child = spawn(tsx, [join(REPO_ROOT, 'test/fixtures/scripts/start-openbao-then-die.ts')], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    await new Promise((r) => child.on('exit', r));
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(0);
    for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(isAlive(pid)).toBe(false);
  }, 30_000);
});
