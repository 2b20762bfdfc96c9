/** Real EC key + self-signed certificate pairs made with openssl, and helpers shared by test/files. */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FilesSpec } from '../../src/config/types.js';
import type { CertificateSetFiles } from '../../src/files/set-files.js';

export interface PemSet {
  cert: string;
  key: string;
  ca: string;
  fullchain: string;
}

export function makePair(label: string): PemSet {
  const work = mkdtempSync(join(tmpdir(), 'vpa-pair-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(work, 'key.pem'),
        '-out',
        join(work, 'cert.pem'),
        '-subj',
        `/CN=pair-${label}`,
        '-days',
        '2',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const cert = readFileSync(join(work, 'cert.pem'), 'utf8');
    const key = readFileSync(join(work, 'key.pem'), 'utf8');
    return { cert, key, ca: cert, fullchain: cert + cert };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** True when the private key belongs to the certificate (compares the public keys). */
export function keyMatchesCert(keyPem: string, certPem: string): boolean {
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  const fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return Buffer.compare(fromKey, fromCert) === 0;
}

export function specFor(dir: string, extra: Partial<FilesSpec> = {}): FilesSpec {
  return {
    dir,
    names: { cert: 'cert.pem', key: 'key.pem', ca: 'ca.pem', fullchain: 'fullchain.pem' },
    certMode: 0o644,
    dirMode: 0o750,
    ...extra,
  };
}

export function asFiles(set: PemSet): CertificateSetFiles {
  return { cert: set.cert, key: set.key, ca: set.ca, fullchain: set.fullchain };
}
