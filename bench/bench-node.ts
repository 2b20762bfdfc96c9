/**
 * The four-certificate node the bootstrap benchmarks run (`bench/run.ts`, `bench/bootstrap-ab.ts`): a PKI in the
 * given OpenBao, a periodic node token in a 0600 file and an agent config for etcd-server, etcd-peer, apiserver and
 * kubelet-client written under `work`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestVault } from '../test/support/openbao.js';
import { createToken, provisionTestPki, writePolicy } from '../test/support/vault-pki.js';

export interface BenchNode {
  token: string;
  tokenFile: string;
  /** Where the sets go (under `work`). */
  out: string;
  configFile: string;
}

export async function writeBenchNode(vault: TestVault, work: string): Promise<BenchNode> {
  const pki = await provisionTestPki(vault, 'bench');
  await writePolicy(vault, 'bench-node', [
    `${pki.etcdMount}/member`,
    `${pki.k8sMount}/apiserver`,
    `${pki.k8sMount}/kubelet-client`,
  ]);
  const token = await createToken(vault, { policies: ['bench-node'], period: '24h' });
  const tokenFile = join(work, 'token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const out = join(work, 'agent-out');
  const configFile = join(work, 'config.yaml');
  writeFileSync(
    configFile,
    `cluster: bench
vault: { address: ${vault.address}, tokenFile: ${tokenFile} }
defaults: { ttl: 24h }
node: { name: node-1, ip: 10.0.0.10, loadBalancer: api.bench.example.internal }
certificates:
  etcd-server: { preset: etcd-server, files: { dir: ${out}/etcd-server } }
  etcd-peer: { preset: etcd-peer, files: { dir: ${out}/etcd-peer } }
  apiserver: { preset: apiserver, files: { dir: ${out}/apiserver } }
  kubelet-client: { preset: kubelet-client, files: { dir: ${out}/kubelet-client } }
`,
  );
  return { token, tokenFile, out, configFile };
}
