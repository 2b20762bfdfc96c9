/**
 * The bundled agent is one file: copied alone into an empty directory (no node_modules anywhere
 * above it), it still answers `--version` and `bootstrap --help`, which loads the CLI parser and the
 * bootstrap command's module.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_BIN } from '../support/agent.js';

const dir = mkdtempSync(join(tmpdir(), 'vpa-single-file-'));
const copy = join(dir, 'vault-pki-agent.mjs');
copyFileSync(AGENT_BIN, copy);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A bare environment and cwd: nothing resolves from the repository's node_modules.
const run = (args: string[]) =>
  spawnSync(process.execPath, [copy, ...args], {
    cwd: dir,
    env: { PATH: '/usr/bin:/bin' },
    encoding: 'utf8',
  });

describe('dist/vault-pki-agent.mjs alone', () => {
  it('--version', () => {
    const r = run(['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^vault-pki-agent \d+\.\d+\.\d+/);
  });

  it('bootstrap --help', () => {
    const r = run(['bootstrap', '--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/--dry-run/);
    expect(r.stdout).toMatch(/--only/);
  });

  it('a command that loads every dependency (config error path: yaml, zod) fails cleanly, not on a missing module', () => {
    const r = run(['check', '--config', join(dir, 'missing.yaml')]);
    expect(r.status).toBe(3);
    expect(r.stderr).not.toMatch(/Cannot find (module|package)/);
  });
});
