/**
 * The Node single-executable build (`npm run build:sea`): node itself with the CJS bundle injected by
 * postject. Built into a scratch directory (it is ~100 MB), then run without any node on PATH.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/openbao.js';

const dir = mkdtempSync(join(tmpdir(), 'vpa-sea-'));
const binary = join(dir, 'vault-pki-agent');
const POSTJECT = join(REPO_ROOT, 'node_modules', 'postject', 'dist', 'cli.js');

beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build.mjs', '--sea-only'], {
    cwd: REPO_ROOT,
    env: { ...process.env, VPA_SEA_DIR: dir },
    stdio: 'pipe',
  });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]) =>
  spawnSync(binary, args, { cwd: dir, env: { PATH: '/nonexistent' }, encoding: 'utf8' });

describe.skipIf(!existsSync(POSTJECT))('single-executable binary', () => {
  it('--version', () => {
    const r = run(['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^vault-pki-agent \d+\.\d+\.\d+ .*node 20\./);
  });

  it('bootstrap --help', () => {
    const r = run(['bootstrap', '--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/--dry-run/);
  });

  it('loads the config code (exit 3 for a missing file) without the SEA require() warning', () => {
    const r = run(['check', '--config', join(dir, 'missing.yaml')]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/cannot read config file/);
    expect(r.stderr).not.toMatch(/Warning|Cannot find module/);
  });
});
