/**
 * A real OpenBao dev server with a second, TLS listener whose certificate comes from a throwaway CA made
 * with openssl (not in any trust store). The plain dev listener stays for test-side provisioning
 * (`api`), the agent under test talks to `tlsAddress`. Guarded like startOpenBao (guarded-process.ts).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GuardedProcess, spawnGuarded } from './guarded-process.js';
import { freePort, RUN_DIR, type TestVault, vaultApi, vaultBinary, waitHealthy } from './openbao.js';
import { registerTestSecret } from './secret-scan.js';

export interface TlsTestVault extends TestVault {
  /** https://127.0.0.1:PORT, served with a certificate from `caFile`'s CA. */
  readonly tlsAddress: string;
  /** PEM of the CA that signed the TLS listener's certificate. */
  readonly caFile: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** CA + server certificate (SANs 127.0.0.1, localhost) in `dir`. */
function makeListenerCertificate(dir: string): { ca: string; cert: string; key: string } {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=fault-test-vault-ca',
    ],
    dir,
  );
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ],
    dir,
  );
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

export async function startOpenBaoWithTls(options: { name?: string } = {}): Promise<TlsTestVault> {
  const port = await freePort();
  const tlsPort = await freePort();
  const rootToken = `root-${randomBytes(12).toString('hex')}`;
  registerTestSecret(rootToken);
  const address = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'vpa-bao-tls-'));
  const files = makeListenerCertificate(dir);
  const configFile = join(dir, 'listener.hcl');
  writeFileSync(
    configFile,
    `listener "tcp" {\n  address = "127.0.0.1:${tlsPort}"\n  tls_cert_file = "${files.cert}"\n  tls_key_file = "${files.key}"\n}\n`,
  );
  const logFile = join(RUN_DIR, `openbao-${options.name ?? 'tls'}-${port}.log`);
  const proc: GuardedProcess = await spawnGuarded(
    vaultBinary(),
    [
      'server',
      '-dev',
      `-dev-root-token-id=${rootToken}`,
      `-dev-listen-address=127.0.0.1:${port}`,
      '-dev-no-store-token',
      '-log-level=warn',
      `-config=${configFile}`,
    ],
    { env: { PATH: process.env.PATH, HOME: process.env.HOME }, logFile },
  );
  await waitHealthy(address, proc);
  const api = vaultApi(address, rootToken);
  const unsupported = () => {
    throw new Error('not supported by startOpenBaoWithTls');
  };
  return {
    address,
    tlsAddress: `https://127.0.0.1:${tlsPort}`,
    caFile: files.ca,
    rootToken,
    port,
    logFile,
    pid: () => proc.pid,
    api,
    seal: unsupported,
    unseal: unsupported,
    restart: unsupported,
    auditedPaths: unsupported,
    markAudit: unsupported,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
