import { describe, expect, it } from 'vitest';
import { policyHcl } from '../../src/provision/policy-hcl.js';

describe('policyHcl', () => {
  it('grants update on each path, read on each read path, and the token its own lifecycle', () => {
    expect(
      policyHcl('prod', 'etcd-member', ['etcd-pki/sign/peer', 'etcd-pki/sign/server'], ['secret/data/sa']),
    ).toBe(
      [
        '# vault-pki-agent provision: node type etcd-member of cluster prod. Managed: edits are reverted.',
        'path "etcd-pki/sign/peer" {',
        '  capabilities = ["update"]',
        '}',
        'path "etcd-pki/sign/server" {',
        '  capabilities = ["update"]',
        '}',
        'path "secret/data/sa" {',
        '  capabilities = ["read"]',
        '}',
        'path "auth/token/lookup-self" {',
        '  capabilities = ["read"]',
        '}',
        'path "auth/token/renew-self" {',
        '  capabilities = ["update"]',
        '}',
        'path "auth/token/revoke-self" {',
        '  capabilities = ["update"]',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('without grants or reads keeps only the lifecycle paths', () => {
    const hcl = policyHcl('c', 'worker', []);
    expect(hcl.match(/^path /gm)).toHaveLength(3);
    expect(hcl.startsWith('# vault-pki-agent provision: node type worker of cluster c.')).toBe(true);
  });
});
