/**
 * A real CA for the pki tests, run by the `openssl` binary (an independent implementation to check
 * ours against). `openssl ca` is used for signing because it can set any validity window
 * (`-startdate`/`-enddate`), which `openssl x509 -req` in OpenSSL 3.0 cannot.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Like `openssl`, but returns stdout+stderr and the exit status instead of throwing. */
export function opensslStatus(args: string[], input?: string): { status: number; output: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', input });
  return { status: r.status ?? 1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export function makeTempDir(prefix = 'vpa-pki-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestCa {
  name: string;
  dir: string;
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

export interface SignOptions {
  /** `YYYYMMDDHHMMSSZ`; default now. */
  startDate?: string;
  /** `YYYYMMDDHHMMSSZ`; default start + 30 days. */
  endDate?: string;
  /** extendedKeyUsage value, e.g. `serverAuth, clientAuth`; null = no EKU extension. */
  eku?: string | null;
}

/** `Date` -> `YYYYMMDDHHMMSSZ` for `openssl ca -startdate/-enddate`. */
export function opensslTime(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

function caConfig(dir: string): string {
  return `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = ${dir}
database = ${dir}/index.txt
new_certs_dir = ${dir}/newcerts
rand_serial = yes
default_md = sha256
default_days = 30
policy = policy_any
copy_extensions = copy
unique_subject = no
email_in_dn = no
[ policy_any ]
commonName = supplied
`;
}

function prepareCaDir(dir: string): void {
  mkdirSync(join(dir, 'newcerts'), { recursive: true });
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'openssl.cnf'), caConfig(dir));
}

const CA_EXT = `basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

let counter = 0;

/** A CA (root when no parent, else an intermediate signed by the parent) with an EC P-256 or RSA key. */
export function createTestCa(
  baseDir: string,
  cn: string,
  options: { parent?: TestCa; keyType?: 'ec' | 'rsa' } = {},
): TestCa {
  const dir = join(baseDir, `ca-${++counter}-${cn.replace(/[^a-z0-9]/gi, '_')}`);
  prepareCaDir(dir);
  const keyPath = join(dir, 'ca.key');
  const certPath = join(dir, 'ca.pem');
  const keyArgs =
    options.keyType === 'rsa'
      ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']
      : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  openssl(['genpkey', ...keyArgs, '-out', keyPath]);
  const extPath = join(dir, 'ca-ext.cnf');
  writeFileSync(extPath, `[ v3_ca ]\n${CA_EXT}`);
  if (!options.parent) {
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      keyPath,
      '-subj',
      `/CN=${cn}`,
      '-days',
      '3650',
      '-config',
      extPath,
      '-extensions',
      'v3_ca',
      '-out',
      certPath,
    ]);
  } else {
    const csrPath = join(dir, 'ca.csr');
    openssl(['req', '-new', '-key', keyPath, '-subj', `/CN=${cn}`, '-out', csrPath]);
    const p = options.parent;
    openssl([
      'ca',
      '-batch',
      '-notext',
      '-config',
      join(p.dir, 'openssl.cnf'),
      '-cert',
      p.certPath,
      '-keyfile',
      p.keyPath,
      '-in',
      csrPath,
      '-out',
      certPath,
      '-days',
      '1825',
      '-extfile',
      extPath,
      '-extensions',
      'v3_ca',
    ]);
  }
  return {
    name: cn,
    dir,
    keyPath,
    certPath,
    keyPem: readFileSync(keyPath, 'utf8'),
    certPem: readFileSync(certPath, 'utf8'),
  };
}

/** Sign a CSR (PEM) with `ca`; SANs are copied from the CSR. Returns the leaf PEM. */
export function signCsr(ca: TestCa, csrPem: string, options: SignOptions = {}): string {
  const id = ++counter;
  const csrPath = join(ca.dir, `leaf-${id}.csr`);
  const outPath = join(ca.dir, `leaf-${id}.pem`);
  const extPath = join(ca.dir, `leaf-${id}-ext.cnf`);
  writeFileSync(csrPath, csrPem);
  const eku = options.eku === undefined ? 'serverAuth, clientAuth' : options.eku;
  writeFileSync(
    extPath,
    `[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
${eku === null ? '' : `extendedKeyUsage = ${eku}\n`}`,
  );
  const start = options.startDate ?? opensslTime(new Date());
  const end = options.endDate ?? opensslTime(new Date(Date.now() + 30 * 86400_000));
  openssl([
    'ca',
    '-batch',
    '-notext',
    '-config',
    join(ca.dir, 'openssl.cnf'),
    '-cert',
    ca.certPath,
    '-keyfile',
    ca.keyPath,
    '-in',
    csrPath,
    '-out',
    outPath,
    '-startdate',
    start,
    '-enddate',
    end,
    '-extfile',
    extPath,
    '-extensions',
    'leaf',
  ]);
  return readFileSync(outPath, 'utf8');
}
