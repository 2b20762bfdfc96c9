/**
 * A real three-node OpenBao cluster with integrated storage (Raft): one active node and two standbys, each
 * on its own loopback address (127.0.0.11-13), API and cluster traffic over TLS with a throwaway test CA.
 * Initialised (one unseal key), unsealed and joined here; every node is a guarded process
 * (guarded-process.ts), so none outlives the test process. Not dev mode: storage is on disk, a killed node
 * keeps its data and can rejoin.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GuardedProcess, spawnGuarded } from './guarded-process.js';
import { type ApiResult, freePort, RUN_DIR, vaultBinary } from './openbao.js';
import { registerTestSecret } from './secret-scan.js';

export interface HaNode {
  readonly id: string;
  /** https://127.0.0.1N:PORT */
  readonly address: string;
  /** The node's Raft data directory (raft.db, snapshots). */
  readonly dataDir: string;
  running(): boolean;
  /** PID of the running server, undefined while stopped. */
  pid(): number | undefined;
}

export interface HaApiOptions {
  token?: string;
  wrapTtl?: string;
  allowError?: boolean;
  /** Default: the current active node. */
  node?: HaNode;
}

export interface HaTestVault {
  readonly nodes: readonly HaNode[];
  /** PEM file of the CA that signed every node's TLS certificate. */
  readonly caFile: string;
  readonly rootToken: string;
  /** The node that answers `sys/health` with 200 (active), waiting up to 30 s for one. */
  active(): Promise<HaNode>;
  api(method: string, path: string, body?: unknown, opts?: HaApiOptions): Promise<ApiResult>;
  /** Bytes of a Raft snapshot taken from the active node now (what the cluster stores, compressed). */
  snapshotBytes(): Promise<number>;
  /** SIGKILL one node (no clean step-down); resolves once it is gone. */
  kill(node: HaNode): Promise<void>;
  /** Start a stopped node again on its address with its data, and unseal it. */
  restart(node: HaNode): Promise<void>;
  stop(): Promise<void>;
}

const NODE_COUNT = 3;

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** One CA and one certificate per node (SANs: its own IP, 127.0.0.1, localhost). */
function makeCertificates(dir: string, ips: readonly string[]): string {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ha-test-ca'],
    dir,
  );
  ips.forEach((ip, i) => {
    const name = `node${i + 1}`;
    openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    writeFileSync(
      join(dir, `${name}.cnf`),
      `subjectAltName=IP:${ip},IP:127.0.0.1,DNS:localhost,DNS:${name}\nbasicConstraints=CA:FALSE\n` +
        'extendedKeyUsage=serverAuth,clientAuth\n',
    );
    openssl(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-extfile',
        `${name}.cnf`,
      ]),
      dir,
    );
  });
  return join(dir, 'ca.pem');
}

function httpsJson(
  ca: string,
  address: string,
  method: string,
  path: string,
  body: unknown,
  token: string | undefined,
  wrapTtl?: string,
): Promise<ApiResult> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${address}/v1/${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      url,
      {
        method,
        ca,
        timeout: 10_000,
        headers: {
          ...(token ? { 'X-Vault-Token': token } : {}),
          ...(wrapTtl ? { 'X-Vault-Wrap-TTL': wrapTtl } : {}),
          ...(payload ? { 'Content-Type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: ApiResult['body'] = {};
          try {
            parsed = text ? (JSON.parse(text) as ApiResult['body']) : {};
          } catch {
            parsed = { errors: [text] };
          }
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          resolve({ status: res.statusCode ?? 0, body: parsed, headers });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(
    `OpenBao HA: ${what} not reached in ${ms} ms${last ? ` (last error: ${String(last)})` : ''}`,
  );
}

export async function startOpenBaoCluster(options: { name?: string } = {}): Promise<HaTestVault> {
  const ips = Array.from({ length: NODE_COUNT }, (_, i) => `127.0.0.${11 + i}`);
  const dir = mkdtempSync(join(tmpdir(), 'vpa-bao-ha-'));
  const caFile = makeCertificates(dir, ips);
  const ca = readFileSync(caFile, 'utf8');
  const ports = await Promise.all(
    ips.map(async () => ({ api: await freePort(), cluster: await freePort() })),
  );
  const addresses = ips.map((ip, i) => `https://${ip}:${ports[i]!.api}`);
  const procs: (GuardedProcess | undefined)[] = [];
  const nodes: HaNode[] = ips.map((_, i) => ({
    id: `node${i + 1}`,
    address: addresses[i]!,
    dataDir: join(dir, `node${i + 1}`),
    running: () => procs[i] !== undefined,
    pid: () => procs[i]?.pid,
  }));

  const launch = async (i: number) => {
    const id = `node${i + 1}`;
    const data = join(dir, id);
    mkdirSync(data, { recursive: true, mode: 0o700 });
    const joins = addresses
      .filter((_, j) => j !== i)
      .map(
        (a) => `  retry_join {\n    leader_api_addr = "${a}"\n    leader_ca_cert_file = "${caFile}"\n  }\n`,
      )
      .join('');
    const config = join(dir, `${id}.hcl`);
    writeFileSync(
      config,
      `storage "raft" {\n  path = "${data}"\n  node_id = "${id}"\n${joins}}\n` +
        `listener "tcp" {\n  address = "${ips[i]}:${ports[i]!.api}"\n  cluster_address = "${ips[i]}:${ports[i]!.cluster}"\n` +
        `  tls_cert_file = "${join(dir, `${id}.pem`)}"\n  tls_key_file = "${join(dir, `${id}.key`)}"\n}\n` +
        `api_addr = "${addresses[i]}"\ncluster_addr = "https://${ips[i]}:${ports[i]!.cluster}"\n` +
        'disable_mlock = true\nui = false\n',
    );
    const logFile = join(RUN_DIR, `openbao-ha-${options.name ?? 'test'}-${id}-${ports[i]!.api}.log`);
    procs[i] = await spawnGuarded(vaultBinary(), ['server', `-config=${config}`, '-log-level=warn'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      logFile,
    });
    const proc = procs[i]!;
    void proc.exited.then(() => {
      if (procs[i] === proc) procs[i] = undefined;
    });
    await until(`${id} listening`, async () => {
      const r = await httpsJson(ca, addresses[i]!, 'GET', 'sys/seal-status', undefined, undefined);
      return r.status === 200 ? true : undefined;
    });
  };

  /** Stop one node; one that hangs in its shutdown (seen while a join was half done) is killed after 10 s. */
  const stopNode = async (proc: GuardedProcess) => {
    const timer = setTimeout(() => {
      try {
        process.kill(proc.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 10_000);
    await proc.stop();
    clearTimeout(timer);
  };
  const stopAll = async () => {
    await Promise.all(procs.map((p) => (p ? stopNode(p) : undefined)));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < NODE_COUNT; i++) await launch(i);
    const init = await httpsJson(
      ca,
      addresses[0]!,
      'PUT',
      'sys/init',
      { secret_shares: 1, secret_threshold: 1 },
      undefined,
    );
    if (init.status !== 200) throw new Error(`sys/init -> ${init.status}: ${JSON.stringify(init.body)}`);
    const unsealKey = String((init.body as { keys_base64?: string[] }).keys_base64?.[0]);
    const rootToken = String((init.body as { root_token?: string }).root_token);
    registerTestSecret(rootToken);
    registerTestSecret(unsealKey);

    const unseal = async (i: number) => {
      await until(`${nodes[i]!.id} unsealed`, async () => {
        const r = await httpsJson(ca, addresses[i]!, 'PUT', 'sys/unseal', { key: unsealKey }, undefined);
        return r.status === 200 && (r.body as { sealed?: boolean }).sealed === false ? true : undefined;
      });
    };
    const health = (node: HaNode) => httpsJson(ca, node.address, 'GET', 'sys/health', undefined, undefined);
    const active = () =>
      until('an active node', async () => {
        for (const node of nodes) {
          if (!node.running()) continue;
          const r = await health(node).catch(() => undefined);
          if (r?.status === 200) return node;
        }
        return undefined;
      });

    await unseal(0);
    await active();
    // Autopilot promotes a joined node to voter after it has been stable this long (default 10 s).
    const ap = await httpsJson(
      ca,
      addresses[0]!,
      'POST',
      'sys/storage/raft/autopilot/configuration',
      { server_stabilization_time: '1s', cleanup_dead_servers: false },
      rootToken,
    );
    if (ap.status >= 300)
      throw new Error(`autopilot configuration -> ${ap.status}: ${JSON.stringify(ap.body)}`);
    for (let i = 1; i < NODE_COUNT; i++) {
      // An explicit join (retry_join only starts on its own timer); retry_join stays for restarts.
      await until(`${nodes[i]!.id} joined`, async () => {
        const r = await httpsJson(
          ca,
          addresses[i]!,
          'PUT',
          'sys/storage/raft/join',
          { leader_api_addr: addresses[0], leader_ca_cert: ca },
          undefined,
        );
        return r.status === 200 ? true : undefined;
      });
      await unseal(i);
    }
    await until('three Raft voters', async () => {
      const r = await httpsJson(
        ca,
        addresses[0]!,
        'GET',
        'sys/storage/raft/configuration',
        undefined,
        rootToken,
      );
      const servers = (r.body.data as { config?: { servers?: { voter?: boolean }[] } } | undefined)?.config
        ?.servers;
      return servers && servers.length === NODE_COUNT && servers.every((s) => s.voter) ? true : undefined;
    });
    await until('every standby healthy', async () => {
      const codes = await Promise.all(nodes.map((n) => health(n).then((r) => r.status)));
      return codes.filter((c) => c === 200).length === 1 && codes.filter((c) => c === 429).length === 2
        ? true
        : undefined;
    });

    return {
      nodes,
      caFile,
      rootToken,
      active,
      api: async (method, path, body, opts = {}) => {
        const node = opts.node ?? (await active());
        const r = await httpsJson(
          ca,
          node.address,
          method,
          path,
          body,
          opts.token ?? rootToken,
          opts.wrapTtl,
        );
        if (!opts.allowError && r.status >= 300) {
          throw new Error(
            `${method} ${path} at ${node.id} -> ${r.status}: ${JSON.stringify(r.body.errors ?? r.body)}`,
          );
        }
        return r;
      },
      snapshotBytes: async () => {
        const node = await active();
        return new Promise<number>((resolve, reject) => {
          const req = request(
            new URL(`${node.address}/v1/sys/storage/raft/snapshot`),
            { method: 'GET', ca, headers: { 'X-Vault-Token': rootToken } },
            (res) => {
              let bytes = 0;
              res.on('data', (c: Buffer) => {
                bytes += c.length;
              });
              res.on('end', () =>
                res.statusCode === 200 ? resolve(bytes) : reject(new Error(`snapshot -> ${res.statusCode}`)),
              );
            },
          );
          req.on('error', reject);
          req.end();
        });
      },
      kill: async (node) => {
        const i = nodes.indexOf(node);
        const proc = procs[i];
        if (!proc) return;
        process.kill(proc.pid, 'SIGKILL');
        await proc.stop();
        procs[i] = undefined;
      },
      restart: async (node) => {
        const i = nodes.indexOf(node);
        if (procs[i]) throw new Error(`${node.id} is running`);
        await launch(i);
        await unseal(i);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
