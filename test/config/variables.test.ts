// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} is the config's variable syntax, not a template slip.
import { describe, expect, it } from 'vitest';
import { expandVariables, needsEc2, VARIABLE_NAMES, type VariableFacts } from '../../src/config/variables.js';
import { HOST } from '../support/config-facts.js';

const facts: VariableFacts = {
  host: { ...HOST },
  ec2: { 'local-ipv4': '172.31.0.7', 'instance-id': 'i-0abc' },
  env: { DIR: '/srv', LOOP: '${cluster}' },
};

describe('expandVariables', () => {
  it('substitutes every known variable, any number of times, and keeps the rest of the text', () => {
    expect(expandVariables('${cluster}/${host.hostname}:${ec2.local-ipv4}${env.DIR}', facts, 'prod')).toEqual(
      {
        ok: true,
        value: `prod/${HOST.hostname}:172.31.0.7/srv`,
      },
    );
    expect(expandVariables('no variables, $ and {} alone', facts, 'prod')).toEqual({
      ok: true,
      value: 'no variables, $ and {} alone',
    });
  });

  it('says why a variable cannot be resolved', () => {
    const message = (text: string, f: VariableFacts = facts, cluster: string | null = 'prod') => {
      const r = expandVariables(text, f, cluster ?? undefined);
      return r.ok ? `expanded to ${r.value}` : r.message;
    };
    expect(message('${cluster}', facts, null)).toBe('${cluster} cannot be resolved: cluster is not valid');
    expect(message('${env.NOPE}')).toBe(
      '${env.NOPE} cannot be resolved: environment variable NOPE is not set',
    );
    expect(message('${ec2.public-ipv4}')).toBe(
      '${ec2.public-ipv4} cannot be resolved: instance metadata has no public-ipv4',
    );
    expect(message('${ec2.instance-id}', { ...facts, ec2: undefined })).toBe(
      '${ec2.instance-id} cannot be resolved: EC2 instance metadata is not available',
    );
    expect(message('${host.ipv6}', { ...facts, host: { hostname: 'h', fqdn: 'h' } })).toBe(
      '${host.ipv6} cannot be resolved: this host has no ipv6',
    );
    expect(message('${host.name}')).toMatch(/^unknown variable \$\{host.name\} \(known: \$\{cluster\}, /);
    expect(message('a ${cluster')).toBe('unterminated "${" (variables are written ${name})');
    expect(message('${env.LOOP}')).toBe('${env.LOOP} expands to text containing "${", which is not allowed');
  });

  it('lists every variable name SPEC documents', () => {
    expect(VARIABLE_NAMES).toEqual([
      'cluster',
      'host.hostname',
      'host.fqdn',
      'host.ipv4',
      'host.ipv6',
      'ec2.local-ipv4',
      'ec2.local-hostname',
      'ec2.public-ipv4',
      'ec2.instance-id',
      'env.NAME',
    ]);
  });
});

describe('needsEc2', () => {
  it.each([
    ['cluster: p\nnode: { ip: "${ec2.local-ipv4}" }\n', true],
    ['cluster: p\ncertificates:\n  a:\n    altNames:\n      - ${ec2.public-ipv4}\n', true],
    ['cluster: p\n# node: { ip: "${ec2.local-ipv4}" }\n', false],
    ['cluster: p\n"${ec2.local-ipv4}": key only\n', false],
    ['cluster: p\nnode: { ip: "${host.ipv4}" }\n', false],
    ['cluster: [${ec2.local-ipv4}\n', true],
  ])('%j -> %s', (text, want) => {
    expect(needsEc2(text)).toBe(want);
  });
});
