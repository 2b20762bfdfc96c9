/**
 * Fault matrix (issue 7): Vault's name does not resolve; Vault's TLS certificate is not trusted (and is
 * never silently skipped); trusted through vault.caCert or VAULT_CACERT; VAULT_SKIP_VERIFY honoured only
 * with --tls-skip-verify. OpenBao serves a TLS listener with a certificate from a throwaway CA
 * (test/support/openbao-tls.ts) that is in no trust store.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  bootstrappedFaultNode,
  checkSet,
  type FaultNode,
  REISSUE_CERTS,
  REISSUED_SAN,
  type SetSnapshot,
  snapshotSets,
  startFaultVault,
} from '../support/fault-node.js';
import { startOpenBaoWithTls, type TlsTestVault } from '../support/openbao-tls.js';

let vault: TlsTestVault;
let node: FaultNode;
let before: SetSnapshot;

beforeAll(async () => {
  vault = await startFaultVault(() => startOpenBaoWithTls({ name: 'faults-tls' }));
});

afterAll(async () => {
  await vault?.stop();
});

beforeEach(async () => {
  // The first bootstrap trusts Vault through vault.caCert in the config.
  ({ node, before } = await bootstrappedFaultNode(vault, {
    address: vault.tlsAddress,
    caCert: vault.caFile,
  }));
  return () => node.cleanup();
});

const reissued = () => {
  const set = checkSet(node.dir('etcd-peer'));
  expect(set.complete, set.why).toBe(true);
  expect(set.sans).toContain(REISSUED_SAN);
};

describe("fault matrix: Vault's name and TLS certificate", () => {
  it('name does not resolve: exit 5 naming the name resolution, within --timeout; the previous set is intact', async () => {
    node.writeConfig({ address: 'https://vault.invalid:8200', caCert: vault.caFile, certs: REISSUE_CERTS });
    const started = Date.now();
    const run = await node.bootstrap(['--timeout', '3s']);
    const elapsed = Date.now() - started;
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(
      /level=error .*Vault at https:\/\/vault\.invalid:8200 unreachable: its name does not resolve \((ENOTFOUND|EAI_AGAIN)\)/,
    );
    expect(elapsed).toBeLessThan(3_000 + 6_000);
    expect(snapshotSets(node)).toEqual(before);
  });

  it('name does not resolve with six sets due: one --timeout for the whole pass, not one per round of requests', async () => {
    const six = ['a', 'b', 'c', 'd', 'e', 'f'].map((x) => ({ name: `etcd-peer-${x}`, preset: 'etcd-peer' }));
    node.writeConfig({ address: 'https://vault.invalid:8200', caCert: vault.caFile, certs: six });
    const started = Date.now();
    const run = await node.bootstrap(['--timeout', '2s']);
    const elapsed = Date.now() - started;
    expect(run.code, run.stderr).toBe(5);
    // Four requests at a time: with a deadline per request the last two sets would start their own 2 s.
    expect(elapsed).toBeLessThan(2_000 + 1_500);
    expect(snapshotSets(node)).toEqual(before);
  });

  it('certificate not trusted (no CA given): exit 5 "not trusted", no silent skip; the previous set is intact', async () => {
    node.writeConfig({ address: vault.tlsAddress, certs: REISSUE_CERTS });
    const run = await node.bootstrap(['--timeout', '3s']);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(
      /level=error .*presented a TLS certificate that is not trusted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY):/,
    );
    expect(run.stderr).toMatch(/give its CA with vault\.caCert or VAULT_CACERT/);
    expect(run.stderr).not.toMatch(/TLS verification of Vault is OFF/);
    expect(snapshotSets(node)).toEqual(before);
  });

  it('trusted through VAULT_CACERT (no vault.caCert): the set is re-issued (exit 0)', async () => {
    node.writeConfig({ address: vault.tlsAddress, certs: REISSUE_CERTS });
    const run = await node.bootstrap([], { env: { VAULT_CACERT: vault.caFile } });
    expect(run.code, run.stderr).toBe(0);
    reissued();
  });

  it('trusted through vault.caCert: the set is re-issued (exit 0)', async () => {
    node.writeConfig({ address: vault.tlsAddress, caCert: vault.caFile, certs: REISSUE_CERTS });
    const run = await node.bootstrap();
    expect(run.code, run.stderr).toBe(0);
    reissued();
  });

  it('VAULT_SKIP_VERIFY=true without --tls-skip-verify: exit 2, nothing touched', async () => {
    node.writeConfig({ address: vault.tlsAddress, certs: REISSUE_CERTS });
    const run = await node.bootstrap([], { env: { VAULT_SKIP_VERIFY: 'true' } });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(
      /level=error .*VAULT_SKIP_VERIFY is set but TLS verification is only turned off when --tls-skip-verify confirms it/,
    );
    expect(snapshotSets(node)).toEqual(before);
  });

  it('VAULT_SKIP_VERIFY=true confirmed by --tls-skip-verify: works, and says so in the log', async () => {
    node.writeConfig({ address: vault.tlsAddress, certs: REISSUE_CERTS });
    const run = await node.bootstrap(['--tls-skip-verify'], { env: { VAULT_SKIP_VERIFY: 'true' } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/level=warn .*TLS verification of Vault is OFF/);
    reissued();
  });
});
