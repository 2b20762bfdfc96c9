import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { KeySpec } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';
import { generateKey } from '../../src/pki/keys.js';

describe('generateKey', () => {
  it.each([[{ type: 'ec', bits: 521 }], [{ type: 'rsa', bits: 1024 }], [{ type: 'ed25519', bits: 256 }]] as [
    KeySpec,
  ][])('refuses to generate %o with a ConfigError', async (spec) => {
    await expect(generateKey(spec)).rejects.toBeInstanceOf(ConfigError);
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
