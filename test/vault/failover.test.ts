/**
 * Failover across a list of Vault addresses, against a real three-node OpenBao cluster (Raft, TLS) and the
 * bundled agent: a dead address is skipped at once and both addresses are named in the log; a bootstrap that
 * lists the killed active node first still succeeds; a redirect is followed only to a configured address, so
 * the token is never sent anywhere else.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../support/agent.js';
import { nodeConfig, type TestCert } from '../support/node-config.js';
import { freePort } from '../support/openbao.js';
import { type HaTestVault, startOpenBaoCluster } from '../support/openbao-ha.js';
import { createToken, provisionTestPki, writePolicy } from '../support/vault-pki.js';

let ha: HaTestVault;
let work: string;
let tokenFile: string;
const servers: Server[] = [];

const CERTS: TestCert[] = [
  { name: 'etcd-peer', preset: 'etcd-peer' },
  { name: 'kubelet-client', preset: 'kubelet-client' },
];

/** A bootstrap of a fresh node whose config lists `addresses` in that order. */
async function bootstrap(addresses: string[], name: string, timeout = '2m') {
  const dir = mkdtempSync(join(work, `${name}-`));
  const config = nodeConfig({ address: addresses[0]!, tokenFile, work: dir, certs: CERTS }).replace(
    `  address: ${addresses[0]}`,
    `  address: [${addresses.join(', ')}]\n  caCert: ${ha.caFile}`,
  );
  writeFileSync(join(dir, 'config.yaml'), config);
  return runAgent(['bootstrap', '--config', join(dir, 'config.yaml'), '--timeout', timeout], { env: {} });
}

/** A plain HTTP server answering every request with a redirect to `location`, counting what it got. */
async function redirector(location: (path: string) => string): Promise<{ address: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url} token=${req.headers['x-vault-token'] ? 'yes' : 'no'}`);
    req.resume();
    res.writeHead(307, { Location: location(req.url ?? '/') }).end();
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  servers.push(server);
  return { address: `http://127.0.0.1:${port}`, hits };
}

beforeAll(async () => {
  ha = await startOpenBaoCluster({ name: 'failover' });
  const pki = await provisionTestPki(ha, 'c1');
  await writePolicy(ha, 'failover-node', [`${pki.etcdMount}/member`, `${pki.k8sMount}/kubelet-client`]);
  work = mkdtempSync(join(tmpdir(), 'vpa-failover-'));
  tokenFile = join(work, 'token');
  writeFileSync(tokenFile, await createToken(ha, { policies: ['failover-node'], period: '1h' }), {
    mode: 0o600,
  });
}, 120_000);

afterAll(async () => {
  for (const s of servers) s.close();
  await ha?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('failover across vault.address (real OpenBao cluster)', () => {
  it('skips a dead address at once and names the one that failed and the one that served', async () => {
    const dead = `https://127.0.0.1:${await freePort()}`;
    const active = await ha.active();
    const run = await bootstrap([dead, active.address], 'dead-first');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`vault address failed, trying the next.*failed=${dead}`));
    expect(run.stderr).toContain(`msg="vault address serving" address=${active.address}`);
    // Moved on at once: the dead address never sent the agent into a backoff.
    expect(run.stderr).not.toContain('vault request failed, retrying');
  });

  it('a bootstrap that lists the killed active node first succeeds on the new active node', async () => {
    const active = await ha.active();
    const others = ha.nodes.filter((n) => n !== active).map((n) => n.address);
    await ha.kill(active);
    try {
      const run = await bootstrap([active.address, ...others], 'killed-first');
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(new RegExp(`failed=${active.address}`));
      const served = /msg="vault address serving" address=(\S+)/.exec(run.stderr)?.[1];
      expect(others).toContain(served);
    } finally {
      await ha.restart(active);
    }
  }, 120_000);

  it('follows a redirect only to a configured address: the token is never sent elsewhere', async () => {
    const active = await ha.active();
    const outsider = await redirector(() => 'http://127.0.0.1:9/never');
    const elsewhere = await redirector((path) => `${outsider.address}${path}`);
    // Retried until --timeout (a standby may become active), but never followed.
    const refused = await bootstrap([elsewhere.address], 'redirect-elsewhere', '3s');
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/redirected .* which is not in vault\.address: not followed/);
    expect(outsider.hits).toEqual([]);

    const toCluster = await redirector((path) => `${active.address}${path}`);
    const followed = await bootstrap([toCluster.address, active.address], 'redirect-listed');
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stderr).toContain('vault redirected to a configured address');
    expect(followed.stderr).toContain(`msg="vault address serving" address=${active.address}`);
  }, 120_000);
});
