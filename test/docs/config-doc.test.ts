/** The config reference stays true: its example parses, and every preset row names a real preset. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRESET_NAMES, parseConfig } from '../../src/config/index.js';
import { REPO_ROOT } from '../support/openbao.js';

const doc = readFileSync(join(REPO_ROOT, 'docs/CONFIG.md'), 'utf8');

describe('docs/CONFIG.md', () => {
  it('the example config parses', () => {
    const yaml = /```yaml\n([\s\S]+?)```/.exec(doc)?.[1];
    expect(yaml).toBeDefined();
    const config = parseConfig(yaml!, {
      host: { hostname: 'node-1', fqdn: 'node-1.example.internal', ipv4: '10.0.0.5' },
      env: {},
    });
    expect(config.certificates[0]).toMatchObject({
      name: 'etcd-peer',
      mount: 'etcd/prod-eu1/pki',
      role: 'member',
    });
    expect(config.certificates[0]?.ipSans).toContain('10.0.0.5');
  });

  it('documents every preset', () => {
    for (const name of PRESET_NAMES.filter((n) => n !== 'engineer')) expect(doc).toContain(name);
  });
});
