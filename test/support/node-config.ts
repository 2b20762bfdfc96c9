/** Builds agent config YAML for tests: a node with the given certificates, writing under `work`. */
import { join } from 'node:path';

export interface TestCert {
  name: string;
  preset: string;
  mode?: 'sign' | 'issue';
  ttl?: string;
  renewAt?: string;
  commonName?: string;
  altNames?: string[];
  /** Unit restarted through (fake) systemctl after this set changes. */
  unit?: string;
  /** Append "<name>\n" to this file after this set changes (exec action). */
  execLog?: string;
  healthCommand?: string[];
}

export function nodeConfig(opts: {
  address: string;
  tokenFile: string;
  work: string;
  certs: TestCert[];
  wrappedToken?: boolean;
  metrics?: boolean;
  extra?: string;
}): string {
  const lines = [
    'cluster: c1',
    'vault:',
    `  address: ${opts.address}`,
    `  tokenFile: ${opts.tokenFile}`,
    ...(opts.wrappedToken ? ['  wrappedToken: true'] : []),
    `stateDir: ${join(opts.work, 'state')}`,
    ...(opts.metrics
      ? ['metrics:', `  textfile: ${join(opts.work, 'metrics', 'vault-pki-agent.prom')}`]
      : []),
    'node:',
    '  name: node-1',
    '  ip: 10.0.0.10',
    '  loadBalancer: api.c1.example.internal',
    'certificates:',
  ];
  for (const c of opts.certs) {
    lines.push(`  ${c.name}:`, `    preset: ${c.preset}`);
    if (c.mode) lines.push(`    mode: ${c.mode}`);
    if (c.ttl) lines.push(`    ttl: ${c.ttl}`);
    if (c.renewAt) lines.push(`    renewAt: ${JSON.stringify(c.renewAt)}`);
    if (c.commonName) lines.push(`    commonName: ${c.commonName}`);
    if (c.altNames) lines.push(`    altNames: ${JSON.stringify(c.altNames)}`);
    lines.push(`    files: { dir: ${join(opts.work, 'pki', c.name)} }`);
    const actions: string[] = [];
    if (c.unit) actions.push(`      - systemd: { unit: ${c.unit}, action: restart }`);
    if (c.execLog) {
      const js =
        'require("fs").appendFileSync(process.argv[1], process.env.VPA_CERT_NAME + String.fromCharCode(10))';
      actions.push(`      - exec: ${JSON.stringify([process.execPath, '-e', js, c.execLog])}`);
    }
    if (actions.length > 0) lines.push('    actions:', ...actions);
    if (c.healthCommand)
      lines.push(
        '    healthCheck:',
        `      command: ${JSON.stringify(c.healthCommand)}`,
        '      timeout: 2s',
      );
  }
  if (opts.extra) lines.push(opts.extra);
  return `${lines.join('\n')}\n`;
}
