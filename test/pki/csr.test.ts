import { createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeySpec } from '../../src/config/types.js';
import { AgentError } from '../../src/errors.js';
import { createCsr } from '../../src/pki/csr.js';
import { generateKey, publicKeyDer } from '../../src/pki/keys.js';
import { makeTempDir, openssl, opensslStatus } from '../support/openssl-ca.js';

const tmp = makeTempDir();
afterAll(() => tmp.cleanup());

const SPECS: KeySpec[] = [
  { type: 'ec', bits: 256 },
  { type: 'ec', bits: 384 },
  { type: 'rsa', bits: 2048 },
  { type: 'rsa', bits: 3072 },
];

const SUBJECT = {
  commonName: 'system:node:ip-10-0-1-5',
  dnsSans: ['ip-10-0-1-5.eu-west-1.compute.internal', 'localhost', '*.etcd.example.com'],
  ipSans: ['10.0.1.5', '127.0.0.1', '::1', '2001:db8::42'],
};

describe('generateKey + createCsr, checked by openssl', () => {
  it.each(SPECS)('%o: openssl verifies the CSR and reads the CN, every SAN and the key', async (spec) => {
    const key = await generateKey(spec);
    expect(key.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const csr = createCsr(key, SUBJECT);
    expect(csr).toMatch(
      /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n-----END CERTIFICATE REQUEST-----\n$/,
    );
    const csrPath = join(tmp.dir, `${spec.type}${spec.bits}.csr`);
    const keyPath = join(tmp.dir, `${spec.type}${spec.bits}.key`);
    writeFileSync(csrPath, csr);
    writeFileSync(keyPath, key.privateKeyPem, { mode: 0o600 });

    const check = opensslStatus(['req', '-in', csrPath, '-noout', '-verify']);
    expect(check.output).toContain('verify OK');
    expect(check.status).toBe(0);

    const text = openssl(['req', '-in', csrPath, '-noout', '-text']);
    expect(text).toContain('Subject: CN = system:node:ip-10-0-1-5');
    expect(text).toContain(
      'DNS:ip-10-0-1-5.eu-west-1.compute.internal, DNS:localhost, DNS:*.etcd.example.com, ' +
        'IP Address:10.0.1.5, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:42',
    );
    if (spec.type === 'ec') {
      expect(text).toContain(spec.bits === 384 ? 'ecdsa-with-SHA384' : 'ecdsa-with-SHA256');
      expect(text).toContain(`Public-Key: (${spec.bits} bit)`);
    } else {
      expect(text).toContain('sha256WithRSAEncryption');
      expect(text).toContain(`Public-Key: (${spec.bits} bit)`);
    }

    // The key file is one openssl accepts, and its public half is the one in the CSR.
    expect(opensslStatus(['pkey', '-in', keyPath, '-noout', '-check']).output).toMatch(/valid/i);
    const keyPub = openssl(['pkey', '-in', keyPath, '-pubout']);
    const csrPub = openssl(['req', '-in', csrPath, '-noout', '-pubkey']);
    expect(csrPub).toBe(keyPub);
    expect(publicKeyDer(createPrivateKey(key.privateKeyPem)).equals(publicKeyDer(key.publicKey))).toBe(true);
    expect(key.publicKeyDer.equals(key.publicKey.export({ type: 'spki', format: 'der' }) as Buffer)).toBe(
      true,
    );
  });

  it('a CSR without SANs has no extension request and still verifies', async () => {
    const key = await generateKey({ type: 'ec', bits: 256 });
    const path = join(tmp.dir, 'nosan.csr');
    writeFileSync(path, createCsr(key, { commonName: 'kube-apiserver-etcd-client' }));
    expect(opensslStatus(['req', '-in', path, '-noout', '-verify']).status).toBe(0);
    const text = openssl(['req', '-in', path, '-noout', '-text']);
    expect(text).toContain('CN = kube-apiserver-etcd-client');
    expect(text).not.toContain('Subject Alternative Name');
  });

  it('a tampered CSR fails openssl verification (the check can fail)', async () => {
    const key = await generateKey({ type: 'ec', bits: 256 });
    const der = Buffer.from(
      createCsr(key, { commonName: 'node-1' })
        .replace(/-----[^-]+-----/g, '')
        .replace(/\s/g, ''),
      'base64',
    );
    const at = der.indexOf(Buffer.from('node-1'));
    der[at] = 'm'.charCodeAt(0);
    const path = join(tmp.dir, 'tampered.csr');
    const b64 = der
      .toString('base64')
      .match(/.{1,64}/g)!
      .join('\n');
    writeFileSync(path, `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`);
    // OpenSSL 3.0 exits 0 either way; the verdict is in the text.
    const result = opensslStatus(['req', '-in', path, '-noout', '-verify']);
    expect(result.output).toContain('verify failure');
    expect(result.output).not.toContain('verify OK');
  });

  it.each([
    [{ commonName: 'a', ipSans: ['10.0.0.300'] }, /IP SAN "10.0.0.300"/],
    [{ commonName: 'a', ipSans: ['localhost'] }, /IP SAN "localhost"/],
    [{ commonName: 'a', dnsSans: ['bücher.example'] }, /punycode/],
    [{ commonName: 'a', dnsSans: [''] }, /DNS SAN ""/],
  ])('rejects bad SAN input %o with a typed error', async (subject, message) => {
    const key = await generateKey({ type: 'ec', bits: 256 });
    let caught: unknown;
    try {
      createCsr(key, subject);
    } catch (error) {
      caught = error;
    }
    expect(AgentError.is(caught)).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });
});
