/** `npm run demo` works on a fresh checkout (CI runs it through this test): the whole flow, exit 0. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/openbao.js';

describe('the demo', () => {
  it('provisions, bootstraps three nodes, checks etcd health over the issued certificates, shows status', () => {
    const run = spawnSync(join(REPO_ROOT, 'node_modules/.bin/tsx'), ['scripts/demo.ts'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/is healthy: successfully committed proposal/);
    expect(run.stdout).toMatch(/== done in [\d.]+ s/);
  }, 150_000);
});
