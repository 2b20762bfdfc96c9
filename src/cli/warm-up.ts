// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} is the config's variable syntax.
/**
 * The boot path's pure steps, run once on made-up input by the launcher's `--write-code-cache` (the build,
 * node-boot.sh's install). V8 caches the code a run compiled, so with this the install-time cache also holds
 * the compiled argv parser, config parser and validator, key generation and CSR encoder: the node's very first
 * bootstrap (cloud-init, before any run cache exists) does not compile them on its critical path
 * (docs/PERFORMANCE.md). No file, network or process is touched; the keys made here are dropped. (Warming the
 * certificate-set writer too, in a scratch directory, made the cache bigger and the first boot no faster.)
 */
import { parseConfig } from '../config/index.js';
import { createCsr } from '../pki/csr.js';
import { generateKey } from '../pki/keys.js';
import { fastInvocation } from './run-cli.js';

const SAMPLE = `cluster: warm-up
vault:
  address: https://vault.example.internal:8200
  tokenFile: /etc/vault-pki-agent/token
node:
  name: \${host.hostname}
  ip: \${host.ipv4}
  loadBalancer: api.warm-up.example.internal
certificates:
  etcd-server:
    preset: etcd-server
    files: { dir: /etc/etcd/pki/server }
  etcd-peer:
    preset: etcd-peer
    files: { dir: /etc/etcd/pki/peer }
  apiserver:
    preset: apiserver
    files: { dir: /etc/kubernetes/pki/apiserver }
  kubelet-client:
    preset: kubelet-client
    files: { dir: /etc/kubernetes/pki/kubelet-client }
`;

export async function warmUp(): Promise<void> {
  fastInvocation(['bootstrap', '--config', '/etc/vault-pki-agent/config.yaml', '--log-format', 'json']);
  const config = parseConfig(
    SAMPLE,
    { host: { hostname: 'warm-up', fqdn: 'warm-up.example.internal', ipv4: '10.0.0.1' }, env: {} },
    { source: 'warm-up' },
  );
  for (const spec of config.certificates) {
    const key = await generateKey(spec.key);
    createCsr(key, { commonName: spec.commonName, dnsSans: spec.dnsSans, ipSans: spec.ipSans });
  }
}
