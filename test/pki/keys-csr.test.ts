import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { KeySpec } from '../../src/config/types.js';
import { AgentError, ConfigError } from '../../src/errors.js';
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

  it.each([[{ type: 'ec', bits: 521 }], [{ type: 'rsa', bits: 1024 }], [{ type: 'ed25519', bits: 256 }]] as [
    KeySpec,
  ][])('refuses to generate %o with a ConfigError', async (spec) => {
    await expect(generateKey(spec)).rejects.toBeInstanceOf(ConfigError);
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

  it('generates RSA keys concurrently off the event loop', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const keys = await Promise.all([1, 2, 3].map(() => generateKey({ type: 'rsa', bits: 2048 })));
    clearInterval(timer);
    expect(new Set(keys.map((k) => k.publicKeyDer.toString('hex'))).size).toBe(3);
    // The event loop kept turning while the keys were generated in the thread pool.
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('key generation and Node 20 key-object deadlock', () => {
  it('never exports from the key objects a generation returned (such an export can deadlock under GC)', async () => {
    // Seen in the storm: KeyObjectHandle::ExportJWK held the key's mutex, a GC inside it finalised the
    // generation job, and ~KeyGenJob waited on the same mutex forever. The keys must come out encoded.
    const sample = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spies = [sample.privateKey, sample.publicKey].map((k) =>
      vi.spyOn(Object.getPrototypeOf(k) as { export: KeyObject['export'] }, 'export'),
    );
    const exports = () => spies.reduce((n, spy) => n + spy.mock.calls.length, 0);
    try {
      for (const spec of [
        { type: 'ec', bits: 256 },
        { type: 'ec', bits: 384 },
        { type: 'rsa', bits: 2048 },
      ] as const) {
        const key = await generateKey(spec);
        expect(key.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
        expect(createPublicKey(key.privateKeyPem).export({ type: 'spki', format: 'der' })).toEqual(
          key.publicKeyDer,
        );
      }
      // Only the three checks above exported (from keys made from the PEM text, not from a generation).
      expect(exports()).toBe(3);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
