/**
 * Certificates for etcd tests straight from a real OpenBao's PKI HTTP API (no agent involved), written
 * as cert.pem / key.pem (0600) / ca.pem into a fresh temp dir: the layout etcd-cluster.ts reads.
 * EC P-256 keys keep issuance fast.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestVault } from './openbao.js';

/** Mounts a PKI engine at `mount`, generates an internal root and a role `role` for any name, IP SANs,
 * server+client usage. Returns the root CA PEM. */
export async function createPkiMount(
  vault: TestVault,
  mount: string,
  opts: { role?: string; caCommonName?: string } = {},
): Promise<string> {
  await vault.api('POST', `sys/mounts/${mount}`, { type: 'pki', config: { max_lease_ttl: '87600h' } });
  const root = await vault.api('POST', `${mount}/root/generate/internal`, {
    common_name: opts.caCommonName ?? `${mount} test CA`,
    ttl: '87600h',
    key_type: 'ec',
    key_bits: 256,
  });
  await vault.api('POST', `${mount}/roles/${opts.role ?? 'member'}`, {
    allow_any_name: true,
    enforce_hostnames: false,
    allow_ip_sans: true,
    allow_localhost: true,
    server_flag: true,
    client_flag: true,
    key_type: 'ec',
    key_bits: 256,
    ttl: '1h',
    max_ttl: '24h',
  });
  return String(root.body.data?.certificate);
}

export interface IssueRequest {
  common_name: string;
  alt_names?: string;
  ip_sans?: string[];
  exclude_cn_from_sans?: boolean;
  ttl?: string;
}

/** Issues one certificate and writes it into a new temp dir; returns the dir. */
export async function issueCertDir(
  vault: TestVault,
  mount: string,
  request: IssueRequest,
  role = 'member',
): Promise<string> {
  const res = await vault.api('POST', `${mount}/issue/${role}`, request);
  const data = res.body.data as { certificate: string; issuing_ca: string; private_key: string };
  const dir = mkdtempSync(join(tmpdir(), `vpa-certs-${randomBytes(2).toString('hex')}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'key.pem'), `${data.private_key.trim()}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'cert.pem'), `${data.certificate.trim()}\n`);
  writeFileSync(join(dir, 'ca.pem'), `${data.issuing_ca.trim()}\n`);
  return dir;
}

/** The member certificate the brief describes: CN = name, DNS `<name>,localhost`, IPs `<ip>,127.0.0.1,::1`. */
export function memberCertRequest(name: string, ip: string): IssueRequest {
  return { common_name: name, alt_names: `${name},localhost`, ip_sans: [ip, '127.0.0.1', '::1'] };
}
