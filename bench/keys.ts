/**
 * EC P-256 key generation as the agent does it (src/pki/keys.ts generateKey) against the plain form (Node's
 * generateKeyPairSync with SPKI and PKCS#8 DER encodings, the key object decoded from the PKCS#8):
 * `npx tsx bench/keys.ts [runs]`. Each variant in fresh processes (the first key of a process is what a boot
 * pays: cold code, OpenSSL's decoders loaded on first use), alternating, then 2,000 keys in a row in one process.
 */
import { spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { derToPem } from '../src/pki/pem.js';

export function plainEcKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  return {
    privateKey: createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' }),
    publicKeyDer: publicKey,
    privateKeyPem: derToPem('PRIVATE KEY', privateKey),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

if (process.argv[2] === 'child') {
  const { generateKey } = await import('../src/pki/keys.js');
  const variant = process.argv[3];
  const one = async () => (variant === 'agent' ? generateKey({ type: 'ec', bits: 256 }) : plainEcKey());
  const t0 = performance.now();
  await one();
  const first = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < 3; i++) await one();
  process.stdout.write(JSON.stringify({ first, next: (performance.now() - t1) / 3 }));
} else {
  const runs = Number(process.argv[2] ?? 21);
  const result: Record<string, { first: number[]; next: number[] }> = {
    agent: { first: [], next: [] },
    plain: { first: [], next: [] },
  };
  for (let i = 0; i < runs; i++) {
    for (const variant of i % 2 ? ['agent', 'plain'] : ['plain', 'agent']) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, 'child', variant]);
      const { first, next } = JSON.parse(r.stdout.toString()) as { first: number; next: number };
      result[variant]?.first.push(first);
      result[variant]?.next.push(next);
    }
  }
  const { generateKey } = await import('../src/pki/keys.js');
  const steady: Record<string, number> = {};
  for (const variant of ['agent', 'plain', 'agent', 'plain']) {
    const t = performance.now();
    for (let i = 0; i < 2000; i++) {
      if (variant === 'agent') await generateKey({ type: 'ec', bits: 256 });
      else plainEcKey();
    }
    steady[variant] = (performance.now() - t) / 2000;
  }
  for (const v of ['agent', 'plain']) {
    const r = result[v] as { first: number[]; next: number[] };
    console.log(
      `${v}: first key of a process ${median(r.first).toFixed(3)} ms, next three ${median(r.next).toFixed(3)} ms each ` +
        `(${runs} processes), 2,000 in a row ${steady[v]?.toFixed(3)} ms each`,
    );
  }
}
