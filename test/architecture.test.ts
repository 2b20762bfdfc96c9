/**
 * The pure core stays pure: these files import no file system, process spawning, network I/O, execa or
 * node-vault (node:net is allowed: its isIP is pure).
 * Only the edges (files/, services/, vault/, host/, app/, metrics/textfile.ts, ...) may.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/openbao.js';

const FORBIDDEN =
  /from '(node:fs|node:fs\/promises|fs|node:child_process|child_process|execa|node-vault|node:http|node:https|node:dns|[./]+\/files\/local-fs\.js)'/;

const PURE: string[] = [
  ...readdirSync(join(REPO_ROOT, 'src/config')).map((f) => `src/config/${f}`),
  ...readdirSync(join(REPO_ROOT, 'src/plan')).map((f) => `src/plan/${f}`),
  ...readdirSync(join(REPO_ROOT, 'src/pki')).map((f) => `src/pki/${f}`),
  'src/provision/desired-state.ts',
  'src/provision/diff.ts',
  'src/kube/kubeconfig.ts',
  'src/kube/exec-credential.ts',
  'src/metrics/render.ts',
  'src/app/status-report.ts',
  'src/vault/retry.ts',
  'src/vault/settings.ts',
  'src/vault/map-error.ts',
].filter((f) => f.endsWith('.ts'));

describe('architecture', () => {
  it.each(PURE)('%s imports no I/O module', (file) => {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    const bad = text.split('\n').filter((line) => FORBIDDEN.test(line));
    expect(bad).toEqual([]);
  });

  it('the check can fail', () => {
    expect(FORBIDDEN.test("import { readFile } from 'node:fs/promises';")).toBe(true);
    expect(FORBIDDEN.test("import { readFile } from '../files/local-fs.js';")).toBe(true);
  });
});
