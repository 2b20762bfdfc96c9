import type { NodeType } from '../config/presets.js';

/** One `path` block per granted path, plus the token's own lifecycle (the default policy is left off). */
export function policyHcl(
  cluster: string,
  nodeType: NodeType,
  grants: readonly string[],
  reads: readonly string[] = [],
): string {
  const lines = [
    `# vault-pki-agent provision: node type ${nodeType} of cluster ${cluster}. Managed: edits are reverted.`,
  ];
  for (const path of grants) lines.push(`path "${path}" {`, '  capabilities = ["update"]', '}');
  for (const path of reads) lines.push(`path "${path}" {`, '  capabilities = ["read"]', '}');
  lines.push(
    'path "auth/token/lookup-self" {',
    '  capabilities = ["read"]',
    '}',
    'path "auth/token/renew-self" {',
    '  capabilities = ["update"]',
    '}',
    'path "auth/token/revoke-self" {',
    '  capabilities = ["update"]',
    '}',
  );
  return `${lines.join('\n')}\n`;
}
