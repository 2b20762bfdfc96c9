// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} is the config's variable syntax, not a template slip.
import { describe, expect, it } from 'vitest';
import { expandValues } from '../../src/config/expand-values.js';
import { makeFacts } from '../support/config-facts.js';

const facts = makeFacts({ env: { DIR: '/srv', EMPTY: '' } });

describe('expandValues', () => {
  it('expands every string value, at any depth, and no key; other values pass through', () => {
    const { value, failures } = expandValues(
      {
        cluster: 'prod',
        stateDir: '${env.DIR}/${cluster}',
        '${cluster}': 'key kept',
        node: { name: 'n-${cluster}', ip: 7, flag: true, none: null },
        list: ['${env.EMPTY}x', ['${cluster}']],
      },
      facts,
    );
    expect(failures).toEqual([]);
    expect(value).toEqual({
      cluster: 'prod',
      stateDir: '/srv/prod',
      '${cluster}': 'key kept',
      node: { name: 'n-prod', ip: 7, flag: true, none: null },
      list: ['x', ['prod']],
    });
  });

  it('expands the cluster without ${cluster}, and an invalid cluster leaves ${cluster} unresolvable', () => {
    const self = expandValues({ cluster: 'x-${cluster}', other: '${cluster}' }, facts);
    expect(self.failures.map((f) => f.path)).toEqual([['cluster'], ['other']]);
    expect(self.value.cluster).toBe('x-${cluster}');
    const invalid = expandValues({ cluster: 'Not_Valid', other: 'a-${cluster}' }, facts);
    expect(invalid.failures).toEqual([{ path: ['other'], message: expect.stringContaining('${cluster}') }]);
  });

  it('reports each value it cannot expand at its path and leaves it as written', () => {
    const { value, failures } = expandValues(
      { cluster: 'p', a: { b: ['ok', '${nope}', 'x${host.hostname'] } },
      facts,
    );
    expect(failures).toEqual([
      { path: ['a', 'b', 1], message: expect.stringMatching(/^unknown variable \$\{nope\} /) },
      { path: ['a', 'b', 2], message: expect.stringContaining('unterminated') },
    ]);
    expect(value.a).toEqual({ b: ['ok', '${nope}', 'x${host.hostname'] });
  });

  it('copies a mapping shared through YAML aliases once, cycles included, without touching the input', () => {
    const shared: Record<string, unknown> = { dir: '${env.DIR}' };
    shared.self = shared;
    const input = { cluster: 'p', a: shared, b: shared };
    const { value } = expandValues(input, facts);
    const a = value.a as Record<string, unknown>;
    expect(a.dir).toBe('/srv');
    expect(a.self).toBe(a);
    expect(value.b).toBe(a);
    expect(shared.dir).toBe('${env.DIR}');
  });
});
