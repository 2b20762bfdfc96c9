/**
 * `npm run demo`: the whole boot path on this machine, with nothing to set up.
 * Starts a local OpenBao dev server (the embedded default), provisions a demo cluster's PKI, mints a node
 * token, then runs the built agent twice on an example node (etcd member + apiserver + kubelet) writing into
 * ./demo-out: first everything is issued, then nothing is due. Cleans up its server on exit or Ctrl-C.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, startOpenBao, vaultVersion } from '../test/support/openbao.js';
import { createToken, provisionTestPki, writePolicy } from '../test/support/vault-pki.js';

const out = join(REPO_ROOT, 'demo-out');
const agent = join(REPO_ROOT, 'dist', 'vault-pki-agent.mjs');
const step = (text: string) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

step(`starting a local OpenBao dev server (${vaultVersion().split(' (')[0]})`);
const vault = await startOpenBao({ name: 'demo' });
const stop = async () => {
  await vault.stop();
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void stop().then(() => process.exit(130));
  });
}

try {
  console.log(`OpenBao listening on ${vault.address}`);
  step(
    'provisioning cluster "demo": etcd/demo/pki, k8s/demo/pki, k8s-front-proxy/demo/pki, roles, a node policy',
  );
  const pki = await provisionTestPki(vault, 'demo');
  await writePolicy(vault, 'demo-node', [
    `${pki.etcdMount}/member`,
    `${pki.k8sMount}/apiserver`,
    `${pki.k8sMount}/kubelet`,
    `${pki.k8sMount}/kubelet-client`,
  ]);
  const tokenFile = join(out, 'token');
  writeFileSync(tokenFile, `${await createToken(vault, { policies: ['demo-node'], period: '24h' })}\n`, {
    mode: 0o600,
  });
  console.log(`node token (periodic, policy demo-node) written to ${tokenFile} (0600)`);

  const pkiDir = (name: string) => join(out, 'pki', name);
  const notify = [
    process.execPath,
    '-e',
    'console.log("  action: restart consumers of " + process.env.VPA_CERT_NAME)',
  ];
  const config = `# Example node: a stacked control-plane node (etcd member + kube-apiserver + kubelet).
cluster: demo
vault:
  address: ${vault.address}
  tokenFile: ${tokenFile}
stateDir: ${join(out, 'state')}
defaults:
  ttl: 24h
node:
  name: node-1
  ip: 10.0.0.10
  loadBalancer: api.demo.example.internal
certificates:
${['etcd-server', 'etcd-peer', 'apiserver', 'kubelet-serving', 'kubelet-client']
  .map(
    (name) => `  ${name}:
    preset: ${name}${name === 'kubelet-client' ? '\n    mode: issue' : ''}
    files: { dir: ${pkiDir(name)} }
    actions:
      - exec: ${JSON.stringify(notify)}`,
  )
  .join('\n')}
`;
  const configFile = join(out, 'config.yaml');
  writeFileSync(configFile, config);
  console.log(`agent config written to ${configFile}`);

  const run = (title: string, args: string[]) => {
    step(title);
    console.log(`$ vault-pki-agent ${args.join(' ')}`);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [agent, ...args], { stdio: 'inherit' });
    console.log(`(exit ${r.status}, ${Math.round(performance.now() - t0)} ms)`);
    if (r.status !== 0) throw new Error(`agent exited ${r.status}`);
  };
  run('first boot: every set is missing, so everything is issued', ['bootstrap', '--config', configFile]);
  run('second run: nothing is due, nothing is touched, no action runs', [
    'bootstrap',
    '--config',
    configFile,
  ]);

  step('what was written');
  for (const name of readdirSync(join(out, 'pki'))) {
    const cert = join(pkiDir(name), 'cert.pem');
    const text = execFileSync(
      'openssl',
      ['x509', '-in', cert, '-noout', '-subject', '-ext', 'subjectAltName'],
      {
        encoding: 'utf8',
      },
    );
    console.log(`${pkiDir(name)}/ {cert,key,ca,fullchain}.pem`);
    console.log(
      text
        .split('\n')
        .filter((l) => l.trim() && !l.includes('X509v3') && !l.startsWith('No extensions'))
        .map((l) => `    ${l.trim()}`)
        .join('\n'),
    );
  }
  step('done: files are in ./demo-out; the OpenBao dev server is stopped');
} finally {
  await stop();
}
