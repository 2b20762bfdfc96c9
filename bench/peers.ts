/**
 * Side by side on one OpenBao, same four certificates (etcd-server, etcd-peer, apiserver,
 * kubelet-client) from nothing: vault-pki-agent `bootstrap`, the classic curl+jq script
 * (bench/baseline-curl-jq.sh) and OpenBao Agent (`bao agent`, token_file auto-auth, one `pkiCert`
 * template per certificate, `exit_after_auth`). Each run under GNU time (wall, user+sys CPU of the
 * whole process tree, peak RSS of its largest process); Vault requests from OpenBao's audit log.
 * Alternating order, a discarded warm-up round, medians and ratios.
 *
 * `tsx bench/peers.ts` (BENCH_RUNS, default 21) prints Markdown; `npm run bench` runs it via bench/run.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AGENT_BIN } from '../test/support/agent.js';
import { nodeConfig } from '../test/support/node-config.js';
import { REPO_ROOT, startOpenBao, vaultBinary } from '../test/support/openbao.js';
import { FOUR_CERTS, prepareStormVault, STORM_POLICY } from '../test/support/storm.js';
import { createToken } from '../test/support/vault-pki.js';
import { stopVault } from './storm.js';

interface Measure {
  wallMs: number;
  cpuMs: number;
  maxRssKb: number;
  requests: number;
  paths: string[];
}

interface Tool {
  name: string;
  /** The command as documented (placeholders for the temporary paths). */
  shown: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  outDir: string;
  reset(): void;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** One `pkiCert` template: the certificate into cert.pem, key and CA beside it through writeToFile. */
function pkiCertTemplate(out: string, dir: string, path: string, params: string[]): string {
  const args = params.map((p) => JSON.stringify(p)).join(' ');
  return `template {
  destination = "${out}/${dir}/cert.pem"
  perms = "0644"
  contents = <<EOT
{{ with pkiCert "${path}" ${args} }}{{ .Data.Cert }}{{ .Data.Key | writeToFile "${out}/${dir}/key.pem" "" "" "0600" }}{{ .Data.CA | writeToFile "${out}/${dir}/ca.pem" "" "" "0644" }}{{ end }}
EOT
}
`;
}

/** The same requests as bench/baseline-curl-jq.sh makes, as OpenBao Agent templates. */
export function openBaoAgentConfig(address: string, tokenFile: string, out: string): string {
  const node = 'node-1';
  const lb = 'api.c1.example.internal';
  const ip = '10.0.0.10';
  return `vault { address = "${address}" }
auto_auth {
  method "token_file" {
    config = { token_file_path = "${tokenFile}" }
  }
}
exit_after_auth = true
template_config { exit_on_retry_failure = true }
${pkiCertTemplate(out, 'etcd-server', 'etcd/c1/pki/issue/member', [`common_name=${node}`, `alt_names=${node},localhost,${lb}`, `ip_sans=${ip},127.0.0.1,::1`, 'ttl=24h', 'key_type=ec'])}
${pkiCertTemplate(out, 'etcd-peer', 'etcd/c1/pki/issue/member', [`common_name=${node}`, `alt_names=${node},localhost`, `ip_sans=${ip},127.0.0.1,::1`, 'ttl=24h', 'key_type=ec'])}
${pkiCertTemplate(out, 'apiserver', 'k8s/c1/pki/issue/apiserver', ['common_name=kube-apiserver', `alt_names=${node},kubernetes,kubernetes.default,kubernetes.default.svc,kubernetes.default.svc.cluster.local,${lb}`, `ip_sans=10.96.0.1,${ip}`, 'ttl=24h', 'key_type=ec'])}
${pkiCertTemplate(out, 'kubelet-client', 'k8s/c1/pki/issue/kubelet-client', [`common_name=system:node:${node}`, 'ttl=24h', 'key_type=ec'])}
`;
}

function measure(tool: Tool, timeFile: string, audited: () => string[], mark: () => void): Measure {
  tool.reset();
  mark();
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, ...tool.argv], {
    env: tool.env,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${tool.name} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  for (const c of FOUR_CERTS)
    for (const f of ['cert.pem', 'key.pem', 'ca.pem'])
      if (!existsSync(join(tool.outDir, c.name, f))) throw new Error(`${tool.name} wrote no ${c.name}/${f}`);
  const [, user, sys, rss] =
    readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
  const paths = audited();
  return {
    wallMs,
    cpuMs: ((user ?? Number.NaN) + (sys ?? Number.NaN)) * 1000,
    maxRssKb: rss ?? Number.NaN,
    requests: paths.length,
    paths,
  };
}

export async function runPeerBench(runs = Number(process.env.BENCH_RUNS ?? 21)): Promise<string> {
  const vault = await startOpenBao({ name: 'peers', audit: true });
  const work = mkdtempSync(join(tmpdir(), 'vpa-peers-'));
  try {
    await prepareStormVault(vault);
    const token = await createToken(vault, { policies: [STORM_POLICY], period: '24h' });
    const tokenFile = join(work, 'token');
    const writeToken = () => writeFileSync(tokenFile, token, { mode: 0o600 });
    writeToken();
    const agentWork = join(work, 'vpa');
    const agentConfig = join(work, 'vpa.yaml');
    writeFileSync(
      agentConfig,
      nodeConfig({ address: vault.address, tokenFile, work: agentWork, certs: FOUR_CERTS }),
    );
    const codeCacheDir = join(work, 'code-cache');
    mkdirSync(codeCacheDir, { mode: 0o700 });
    const baoOut = join(work, 'bao-out');
    const baoConfig = join(work, 'bao-agent.hcl');
    writeFileSync(baoConfig, openBaoAgentConfig(vault.address, tokenFile, baoOut));
    const curlOut = join(work, 'curl-out');
    const base = { PATH: process.env.PATH, HOME: process.env.HOME };
    const tools: Tool[] = [
      {
        name: 'vault-pki-agent',
        shown:
          'VPA_CODE_CACHE_DIR=cache/ node dist/vault-pki-agent.cjs bootstrap --config vpa.yaml --log-level warn',
        argv: [process.execPath, AGENT_BIN, 'bootstrap', '--config', agentConfig, '--log-level', 'warn'],
        // As the units run it: V8's code cache kept between runs (written by the discarded warm-up round).
        env: { ...base, VPA_CODE_CACHE_DIR: codeCacheDir },
        outDir: join(agentWork, 'pki'),
        reset: () => rmSync(agentWork, { recursive: true, force: true }),
      },
      {
        name: 'curl + jq script',
        shown:
          'VAULT_ADDR=… VAULT_TOKEN=… bash bench/baseline-curl-jq.sh OUT c1 node-1 10.0.0.10 api.c1.example.internal',
        argv: [
          'bash',
          join(REPO_ROOT, 'bench', 'baseline-curl-jq.sh'),
          curlOut,
          'c1',
          'node-1',
          '10.0.0.10',
          'api.c1.example.internal',
        ],
        env: { ...base, VAULT_ADDR: vault.address, VAULT_TOKEN: token },
        outDir: curlOut,
        reset: () => rmSync(curlOut, { recursive: true, force: true }),
      },
      {
        name: 'OpenBao Agent',
        shown: 'bao agent -config=bao-agent.hcl -log-level=warn',
        argv: [vaultBinary(), 'agent', `-config=${baoConfig}`, '-log-level=warn'],
        env: base,
        outDir: baoOut,
        reset: () => {
          rmSync(baoOut, { recursive: true, force: true });
          writeToken();
        },
      },
    ];
    const results = new Map<string, Measure[]>(tools.map((t) => [t.name, []]));
    const timeFile = join(work, 'time.txt');
    for (let round = 0; round <= runs; round++) {
      // Rotate the order every round so no tool always runs first (or right after another).
      for (let k = 0; k < tools.length; k++) {
        const tool = tools[(round + k) % tools.length] as Tool;
        const m = measure(
          tool,
          timeFile,
          () => vault.auditedPaths(),
          () => vault.markAudit(),
        );
        if (round > 0) results.get(tool.name)?.push(m); // round 0 warms caches
      }
    }
    const summary = tools.map((t) => {
      const ms = results.get(t.name) ?? [];
      return {
        tool: t,
        wall: median(ms.map((m) => m.wallMs)),
        cpu: median(ms.map((m) => m.cpuMs)),
        rssMb: median(ms.map((m) => m.maxRssKb)) / 1024,
        requests: median(ms.map((m) => m.requests)),
        paths: ms[0]?.paths ?? [],
      };
    });
    const ours = summary[0] as (typeof summary)[number];
    const lines = [
      `\n## Against the tools users would pick instead (${runs} alternating runs each, medians)`,
      '',
      '| tool | wall | CPU (user+sys) | peak RSS | Vault requests | wall vs vault-pki-agent | CPU vs vault-pki-agent |',
      '|---|---|---|---|---|---|---|',
      ...summary.map(
        (s) =>
          `| ${s.tool.name} | ${s.wall.toFixed(0)} ms | ${s.cpu.toFixed(0)} ms | ${s.rssMb.toFixed(1)} MB | ${s.requests} | ${(s.wall / ours.wall).toFixed(2)}× | ${(s.cpu / ours.cpu).toFixed(2)}× |`,
      ),
      '',
      'Vault requests per run (audit log):',
      ...summary.map((s) => `- ${s.tool.name}: ${s.paths.join(', ')}`),
      '',
      'Commands:',
      ...summary.map((s) => `- ${s.tool.name}: \`${s.tool.shown}\``),
    ];
    return lines.join('\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
    await stopVault(vault);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runPeerBench());
}
