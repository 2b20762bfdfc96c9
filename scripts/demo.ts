/**
 * `npm run demo`: the whole boot path on this machine, with nothing to set up.
 *   provision -> token create (one per node type) -> three "instances" (an etcd member, a control-plane
 *   node, a worker) each given exactly the files its CloudFormation template's user data writes ->
 *   bootstrap on each -> the member's two etcds started on 127.0.0.1 the way its user data configures
 *   them (the Kubernetes etcd trusts only the etcd CA, the overlay etcd only the overlay CA), checked by
 *   etcdctl with client certificates the other nodes were issued (a worker's is refused by the
 *   Kubernetes etcd) -> status.
 * Everything lands in ./demo-out. The OpenBao dev server and etcd are stopped on exit and on Ctrl-C
 * (and cannot outlive this process: both run under test/support's guarded spawn).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { materializeWriteFiles, renderUserData, sampleValues } from '../test/support/cfn-user-data.js';
import { etcdBinary } from '../test/support/etcd-cluster.js';
// FAKE systemctl: the demo runs on any developer machine, no root or container; test/system runs the real one.
import { FAKE_SYSTEMCTL } from '../test/support/fake-systemctl/index.js';
import { type GuardedProcess, spawnGuarded } from '../test/support/guarded-process.js';
import { freePort, REPO_ROOT, startOpenBao, vaultVersion } from '../test/support/openbao.js';

if (process.argv.includes('--kubernetes')) {
  // A real Kubernetes control plane on the agent's output (root, and a long first build): loaded only here.
  await import('./demo-kubernetes.js');
  process.exit(process.exitCode ?? 0);
}

const started = performance.now();
const out = join(REPO_ROOT, 'demo-out');
const agent = join(REPO_ROOT, 'dist', 'vault-pki-agent.cjs');
const step = (text: string) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const isRoot = process.getuid?.() === 0;

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const etcds: GuardedProcess[] = [];
step(`starting a local OpenBao dev server (${vaultVersion().split(' (')[0]})`);
const vault = await startOpenBao({ name: 'demo' });
let stopping: Promise<void> | undefined;
const stop = () => {
  stopping ??= (async () => {
    // The guards are unref'd: keep the event loop alive until both servers are gone.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      await Promise.all(etcds.map((e) => e.stop()));
      await vault.stop();
    } finally {
      clearInterval(keepAlive);
    }
  })();
  return stopping;
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.log(`\n${signal}: stopping etcd and OpenBao`);
    void stop().then(() => process.exit(130));
  });
}

/** Runs the agent; prints the command line, its output and its exit code. */
function agentRun(args: string[], env: Record<string, string> = {}, quiet = false) {
  if (!quiet) console.log(`$ vault-pki-agent ${args.join(' ')}`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [agent, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
  });
  if (!quiet) {
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    console.log(`(exit ${r.status}, ${Math.round(performance.now() - t0)} ms)`);
  }
  if (r.status !== 0) throw new Error(`vault-pki-agent ${args[0]} exited ${r.status}\n${r.stderr}`);
  return r;
}

try {
  console.log(`OpenBao listening on ${vault.address}`);
  const operator = { VAULT_ADDR: vault.address, VAULT_TOKEN: vault.rootToken };

  step('provision: mounts, CAs, roles, policies and token roles for cluster "demo"');
  // Name rules per node type: the workers (this host's name here) may claim their own kubelet identity only.
  // The control plane runs on the same host here, so it gets no list (any host name in its apiserver role).
  const rules = join(out, 'provision.yaml');
  const node = JSON.stringify(hostname());
  // etcd members: their names and the DNS names the template adds (altNames, etcd-N.<EtcdDomain>).
  writeFileSync(
    rules,
    `nodeNames:\n  worker: [${node}]\n  etcd-member: ["etcd-*"]\nloadBalancers: [api.demo.example.internal]\n`,
  );
  console.log(`provision config (${rules.replace(`${out}/`, 'demo-out/')}):\n${readFileSync(rules, 'utf8')}`);
  const plan = agentRun(['provision', '--cluster', 'demo', '--provision-config', rules], operator, true);
  const changes = plan.stdout.split('\n').filter((l) => /^[+~] /.test(l));
  console.log(
    `$ vault-pki-agent provision --cluster demo --provision-config demo-out/provision.yaml\n${changes.length} changes applied, e.g.`,
  );
  for (const kind of ['mount', 'ca', 'role', 'policy', 'token-role'])
    console.log(`  ${changes.find((l) => l.startsWith(`+ ${kind} `))}`);
  console.log('what each node type can obtain (from the plan):');
  const reach = plan.stdout.split('\n').filter((l) => /^# (\S+ can obtain:| {2})/.test(l));
  for (const line of reach) console.log(line.slice(2));

  const ca = String((await vault.api('GET', 'etcd/demo/pki/cert/ca')).body.data?.certificate);
  const nodes = [
    { name: 'etcd-1', nodeType: 'etcd-member', template: 'etcd.yaml' },
    { name: 'control-plane-1', nodeType: 'control-plane', template: 'control-plane.yaml' },
    { name: 'worker-1', nodeType: 'worker', template: 'workers.yaml' },
  ] as const;

  const roots: Record<string, { root: string; config: string }> = {};
  for (const node of nodes) {
    step(`${node.name}: token create, then the ${node.template} user data, as cloud-init would write it`);
    console.log(`$ vault-pki-agent token create --cluster demo --node-type ${node.nodeType}`);
    const minted = agentRun(
      ['token', 'create', '--cluster', 'demo', '--node-type', node.nodeType],
      operator,
      true,
    );
    process.stderr.write(minted.stderr);
    const token = minted.stdout.trim();
    const [userData] = renderUserData(
      node.template,
      sampleValues({
        ClusterId: 'demo',
        VaultAddress: vault.address,
        VaultCaCertificate: Buffer.from(`${ca}\n`).toString('base64'),
        VaultToken: token,
        EtcdDomain: 'etcd.demo.example.internal',
        ApiLoadBalancerDns: 'api.demo.example.internal',
      }),
    );
    const root = join(out, node.name);
    const config = materializeWriteFiles(userData?.text ?? '', root);
    if (!isRoot) {
      // The templates hand etcd's sets to the etcd user; only root may chown, so keep them ours here.
      writeFileSync(config, readFileSync(config, 'utf8').replace(/, owner: etcd, group: etcd/g, ''));
    }
    console.log(
      `user data: ${Buffer.byteLength(userData?.text ?? '')} bytes of cloud-config (the token only in write_files)`,
    );
    console.log(`  ${root}/etc/vault-pki-agent/token (0600), config.yaml, vault-ca.pem, boot scripts`);
    roots[node.name] = { root, config };
  }

  for (const node of nodes) {
    const { root, config } = roots[node.name] as { root: string; config: string };
    step(`${node.name}: bootstrap (vault-pki-agent.service at first boot)`);
    const systemctlLog = join(root, 'systemctl.log');
    agentRun(['bootstrap', '--config', config], {
      // systemd is not PID 1 here: the test suite's stand-in systemctl records what would be restarted.
      VPA_SYSTEMCTL: FAKE_SYSTEMCTL,
      FAKE_SYSTEMCTL_LOG: systemctlLog,
    });
    let calls = '';
    try {
      calls = readFileSync(systemctlLog, 'utf8').trim().split('\n').join('; ');
    } catch {}
    if (calls) console.log(`systemctl (stand-in) was asked to: ${calls}`);
  }

  // etcd comes from Debian through scripts/install-test-tools, which installs it only as root.
  const haveEtcd = spawnSync(etcdBinary('etcd'), ['--version'], { stdio: 'ignore' }).status === 0;
  if (!haveEtcd) {
    step(
      'etcd is not installed: skipping the etcd health check (run `bash scripts/install-test-tools` as root)',
    );
  } else {
    const pki = (node: string, set: string, file: string) =>
      join(roots[node]?.root ?? '', set.startsWith('/') ? set.slice(1) : set, file);
    /** One of etcd-1's etcds on 127.0.0.1, configured by the environment file its user data wrote. */
    const startEtcd = async (name: string, envFile: string) => {
      const root = roots['etcd-1']?.root ?? '';
      const env: Record<string, string> = {};
      for (const line of readFileSync(join(root, envFile), 'utf8').split('\n')) {
        const m = /^(ETCD_[A-Z_]+)=(.*)$/.exec(line);
        if (m) env[m[1] as string] = m[2]?.startsWith('/') ? join(root, m[2]) : (m[2] as string);
      }
      const clientUrl = `https://127.0.0.1:${await freePort()}`;
      const peerUrl = `https://127.0.0.1:${await freePort()}`;
      const proc = await spawnGuarded(
        etcdBinary('etcd'),
        [
          `--name=${name}`,
          `--data-dir=${join(root, 'var', 'lib', name)}`,
          `--listen-client-urls=${clientUrl}`,
          `--advertise-client-urls=${clientUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=${name}=${peerUrl}`,
        ],
        { logFile: join(root, `${name}.log`), env: { PATH: process.env.PATH, ...env } },
      );
      etcds.push(proc);
      console.log(`${name} (pid ${proc.pid}) serving ${clientUrl}, settings from ${envFile}:`);
      for (const [k, v] of Object.entries(env)) console.log(`  ${k}=${v.replaceAll(`${out}/`, 'demo-out/')}`);
      return clientUrl;
    };
    /** etcdctl endpoint health with a client certificate another node was issued. */
    const health = async (url: string, node: string, set: string, attempts: number) => {
      const args = [
        `--endpoints=${url}`,
        `--cacert=${pki(node, set, 'ca.pem')}`,
        `--cert=${pki(node, set, 'cert.pem')}`,
        `--key=${pki(node, set, 'key.pem')}`,
        '--dial-timeout=2s',
        '--command-timeout=3s',
        'endpoint',
        'health',
      ];
      console.log(`$ etcdctl ${args.join(' ').replaceAll(`${out}/`, 'demo-out/')}`);
      let text = '';
      for (let attempt = 0; attempt < attempts; attempt++) {
        const r = spawnSync(etcdBinary('etcdctl'), args, {
          encoding: 'utf8',
          env: { ...process.env, ETCDCTL_API: '3' },
        });
        text = `${r.stdout}${r.stderr}`.trim();
        if (r.status === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      console.log(text.split('\n').slice(-2).join('\n'));
      return /is healthy/.test(text);
    };

    step(
      'etcd-1: the Kubernetes etcd (trusts the etcd CA only) and the overlay etcd (trusts the overlay CA only)',
    );
    const kubernetesEtcd = await startEtcd('etcd-1', 'etc/etcd/etcd-tls.env');
    const overlayEtcd = await startEtcd('etcd-1-overlay', 'etc/etcd-overlay/etcd-tls.env');

    step(
      'etcdctl endpoint health on the Kubernetes etcd, as etcd-grpc-proxy (control-plane-1: kube-apiserver reaches etcd through it)',
    );
    if (!(await health(kubernetesEtcd, 'control-plane-1', 'etc/kubernetes/pki/etcd-grpc-proxy', 50)))
      throw new Error('the Kubernetes etcd did not report healthy');
    step('etcdctl endpoint health on the overlay etcd, as flanneld (worker-1)');
    if (!(await health(overlayEtcd, 'worker-1', 'etc/kubernetes/pki/flanneld-etcd-client', 50)))
      throw new Error('the overlay etcd did not report healthy');
    step(
      "the same flanneld certificate on the Kubernetes etcd: refused (a worker's certificates open no Kubernetes data)",
    );
    if (await health(kubernetesEtcd, 'worker-1', 'etc/kubernetes/pki/flanneld-etcd-client', 1))
      throw new Error("the Kubernetes etcd accepted a worker's certificate");
  }

  for (const node of nodes) {
    step(`${node.name}: status`);
    agentRun(['status', '--config', roots[node.name]?.config ?? '']);
  }

  step('what was written (subject and SANs of each certificate)');
  for (const node of nodes) {
    const sets = execFileSync(
      'find',
      [roots[node.name]?.root ?? '', '-name', 'cert.pem', '-not', '-path', '*/..*'],
      {
        encoding: 'utf8',
      },
    )
      .trim()
      .split('\n')
      .filter(Boolean)
      .sort();
    for (const cert of sets) {
      const text = execFileSync(
        'openssl',
        ['x509', '-in', cert, '-noout', '-subject', '-ext', 'subjectAltName'],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'], // "No extensions in certificate" for client certificates
        },
      );
      const lines = text
        .split('\n')
        .filter((l) => l.trim() && !l.includes('X509v3') && !l.startsWith('No extensions'))
        .map((l) => l.trim());
      console.log(`${cert.replace(`${out}/`, '').replace('/cert.pem', '')}: ${lines.join(' | ')}`);
    }
  }
  step(
    `done in ${((performance.now() - started) / 1000).toFixed(1)} s: files are in ./demo-out; etcd and OpenBao are stopped`,
  );
} finally {
  await stop();
}
