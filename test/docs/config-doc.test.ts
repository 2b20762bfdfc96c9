/** The config reference stays true: its example parses, and every preset row names a real preset. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRESET_NAMES, parseConfig } from '../../src/config/index.js';
import { defaultMountNaming, PRESETS } from '../../src/config/presets.js';
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

  it('documents every preset in a row of its own, with its mount and role', () => {
    // Whole rows of the preset table: a name that only appears inside another preset's row (etcd-client in
    // apiserver-etcd-client) does not count.
    const table = doc.slice(doc.indexOf('| preset | mount | role |'));
    const rows = table
      .split('\n')
      .slice(2)
      .filter((l) => l.startsWith('|'))
      .map((l) => l.split('|').map((c) => c.trim()));
    const mounts = defaultMountNaming('`<c>`');
    for (const name of PRESET_NAMES.filter((n) => n !== 'engineer')) {
      const row = rows.find((cells) => (cells[1] ?? '').split(' / ').includes(name));
      expect(row, `a row for preset ${name}`).toBeDefined();
      expect({ name, mount: row?.[2], role: row?.[3] }).toEqual({
        name,
        mount: mounts[PRESETS[name].ca],
        role: PRESETS[name].role,
      });
    }
  });
});
