/**
 * Property tests for the Vault client adapter (src/vault/client.ts) against arbitrary HTTP
 * answers: a fault-injection server on 127.0.0.1 answers every request with a status, headers and
 * body fast-check generates — Vault-shaped JSON with missing fields, wrong types, huge values, text
 * that is not JSON, truncated bodies, resets and stalls. Every call must settle in bounded time with
 * either a well-typed result or an AgentError whose code is not `internal` (an `internal` error is a
 * crash the adapter caught too late: a TypeError wrapped, not understood).
 *
 * The client runs with a zero retry budget so that each generated answer costs one round trip; the
 * retry loop itself is covered in test/vault/retry.test.ts.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { createVaultClient } from '../../src/vault/client.js';
import type { VaultClient } from '../../src/vault/vault-client.js';
import {
  type Fault,
  type FaultInjectionServer,
  startFaultInjectionServer,
} from '../support/fault-injection-server.js';
import { createMemoryLogger } from '../support/memory-logger.js';

const REQUEST_TIMEOUT_MS = 300;
/** Generous: one request, at most a second request (403 -> lookup-self), each bounded by the timeout. */
const SETTLE_MS = 4 * REQUEST_TIMEOUT_MS + 2000;

let server: FaultInjectionServer;
let client: VaultClient;
const log = createMemoryLogger('debug');

beforeAll(async () => {
  server = await startFaultInjectionServer();
  client = createVaultClient({
    settings: { address: server.address, requestTimeoutMs: REQUEST_TIMEOUT_MS, skipVerify: false },
    token: 'fuzz-token-0123456789abcdef',
    timeoutMs: 0,
    log,
  });
});
afterAll(async () => {
  await server?.close();
});

const isStringArray = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isRecord = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Operation {
  run: (c: VaultClient) => Promise<unknown>;
  check: (r: unknown) => void;
}
/** An operation and the check its successful result must pass, typed by what the client returns. */
const op = <T>(run: (c: VaultClient) => Promise<T>, check: (r: T) => void): Operation => ({
  run,
  check: check as (r: unknown) => void,
});

const OPERATIONS: Record<string, Operation> = {
  lookupSelf: op(
    (c) => c.lookupSelf(),
    (r) => {
      expect(Number.isFinite(r.ttlSeconds)).toBe(true);
      expect(isStringArray(r.policies)).toBe(true);
      expect(typeof r.renewable).toBe('boolean');
    },
  ),
  renewSelf: op(
    (c) => c.renewSelf(3600),
    (r) => {
      expect(Number.isFinite(r.leaseDurationSeconds)).toBe(true);
      expect(isStringArray(r.policies)).toBe(true);
    },
  ),
  sign: op(
    (c) => c.sign('pki', 'role', 'csr', { commonName: 'x' }, { certName: 'fuzz' }),
    (r) => {
      expect(typeof r.data.certificate).toBe('string');
      expect(typeof r.data.issuingCa).toBe('string');
      expect(isStringArray(r.data.caChain)).toBe(true);
      expect(Number.isFinite(r.data.expiration)).toBe(true);
      expect(isStringArray(r.warnings)).toBe(true);
    },
  ),
  issue: op(
    (c) => c.issue('pki', 'role', { commonName: 'x', ttl: 60 }),
    (r) => {
      expect(typeof r.data.certificate).toBe('string');
      expect(Number.isFinite(r.data.expiration)).toBe(true);
      expect(isStringArray(r.warnings)).toBe(true);
    },
  ),
  readCaChain: op(
    (c) => c.readCaChain('pki'),
    (r) => {
      expect(r.length).toBeGreaterThan(0);
      for (const pem of r) expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    },
  ),
  read: op(
    (c) => c.read('pki/roles/x'),
    (r) => {
      if (r === undefined) return;
      expect(isRecord(r.data)).toBe(true);
      expect(isStringArray(r.warnings)).toBe(true);
    },
  ),
  write: op(
    (c) => c.write('auth/token/create', { policies: ['x'] }, { wrapTtl: '60s' }),
    (r) => {
      expect(isRecord(r.data)).toBe(true);
      expect(isStringArray(r.warnings)).toBe(true);
    },
  ),
  list: op(
    (c) => c.list('pki/roles'),
    (r) => expect(isStringArray(r)).toBe(true),
  ),
  unwrapToken: op(
    (c) => c.unwrapToken('wrapping-token-0123456789', (p) => p === 'auth/token/create'),
    (r) => expect(typeof r).toBe('string'),
  ),
  delete: op(
    (c) => c.delete('pki/roles/x'),
    (r) => expect(r).toBeUndefined(),
  ),
};

/** Runs one operation against the current fault; fails the property on a crash, a hang or a bad shape. */
async function settlesTyped(name: string): Promise<void> {
  const op = OPERATIONS[name]!;
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => {
    timer = setTimeout(() => resolve('hang'), SETTLE_MS);
  });
  try {
    const outcome = await Promise.race([
      op.run(client).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      hang,
    ]);
    if (outcome === 'hang') throw new Error(`${name} did not settle within ${SETTLE_MS} ms`);
    if ('error' in outcome) {
      const e = outcome.error;
      if (!AgentError.is(e)) throw new Error(`${name} threw a non-AgentError: ${String(e)}`, { cause: e });
      if (e.code === 'internal')
        throw new Error(`${name} crashed inside the adapter: ${e.message}`, { cause: e });
      expect(typeof e.message).toBe('string');
      expect(e.message).not.toContain('fuzz-token-0123456789abcdef');
      return;
    }
    op.check(outcome.value);
  } finally {
    clearTimeout(timer);
  }
}

// --- generators ------------------------------------------------------------------------------

const PEM = `-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUKq8=\n-----END CERTIFICATE-----\n`;

/** A value for any field: plausible, wrong-typed, huge, or hostile to String(). */
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  fc.constantFrom(
    PEM,
    `${PEM}${PEM}`,
    PEM.slice(0, 40),
    '',
    '0',
    '1700000000',
    'auth/token/create',
    1700000000,
    -1,
    0,
    1.5,
    Number.MAX_SAFE_INTEGER,
    1e308,
    true,
    null,
    [],
    {},
  ),
  fc.constant({ toString: 1, valueOf: 2 }),
  fc.array(fc.oneof(fc.string(), fc.constant({ toString: 'x' }), fc.integer()), { maxLength: 4 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
);

const FIELDS = [
  'certificate',
  'issuing_ca',
  'ca_chain',
  'private_key',
  'private_key_type',
  'serial_number',
  'expiration',
  'ttl',
  'policies',
  'renewable',
  'period',
  'explicit_max_ttl',
  'num_uses',
  'orphan',
  'expire_time',
  'accessor',
  'creation_path',
  'keys',
  'client_token',
  'lease_duration',
  'token',
] as const;

const fieldsObject = fc.dictionary(fc.constantFrom(...FIELDS), fieldValue, { maxKeys: 8 });
const sectionValue = fc.oneof({ weight: 4, arbitrary: fieldsObject }, fieldValue);

const vaultShapedBody = fc
  .record(
    {
      data: sectionValue,
      auth: sectionValue,
      wrap_info: sectionValue,
      warnings: fieldValue,
      errors: fieldValue,
    },
    { requiredKeys: [] },
  )
  .map((b) => JSON.stringify(b));

/** Bodies JSON.stringify cannot produce: huge numbers, huge strings and arrays, deep nesting, cut-off JSON. */
const RAW_BODIES = [
  '{"data":{"ttl":1e400,"policies":["a"],"renewable":true}}',
  '{"auth":{"client_token":"t","lease_duration":1e400,"renewable":true}}',
  `{"data":{"certificate":"x","serial_number":"1","expiration":"${'9'.repeat(400)}"}}`,
  `{"data":{"certificate":"${'A'.repeat(4_000_000)}","serial_number":"1","expiration":1}}`,
  `{"data":{"ca_chain":"${'-----BEGIN CERTIFICATE-----'.repeat(40_000)}"}}`,
  `{"data":{"certificate":"${'-----BEGIN CERTIFICATE-----'.repeat(40_000)}"}}`,
  `{"warnings":[${Array(200_000).fill('"w"').join(',')}],"data":{}}`,
  `{"data":{"keys":[${Array(200_000).fill('{"toString":1}').join(',')}]}}`,
  `${'['.repeat(200_000)}${']'.repeat(200_000)}`,
  `{"data":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`,
  '{"data":{"certificate":"x",',
  '\u0000\u0001\u0002',
  'null',
  '"a string"',
  '[]',
];
const rawBodies = fc.constantFrom(...RAW_BODIES);

const body = fc.oneof(
  { weight: 6, arbitrary: vaultShapedBody },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: rawBodies },
);

const headers = fc.record(
  {
    'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain'),
    'retry-after': fc.constantFrom('0', '1', 'soon', '99999999999999', 'Wed, 21 Oct 2015 07:28:00 GMT'),
    date: fc.constantFrom('garbage', 'Thu, 01 Jan 1970 00:00:00 GMT', new Date().toUTCString()),
  },
  { requiredKeys: ['content-type'] },
);

const status = fc.oneof(
  { weight: 4, arbitrary: fc.constant(200) },
  fc.constantFrom(204, 301, 400, 403, 404, 412, 429, 500, 503),
  fc.integer({ min: 200, max: 599 }),
);

const answer: fc.Arbitrary<Fault> = fc.record({
  kind: fc.constant('answer' as const),
  status,
  headers,
  body,
});

const operation = fc.constantFrom(...Object.keys(OPERATIONS));

describe('VaultClient adapter on arbitrary HTTP answers', () => {
  it('the harness can tell success from failure: a well-formed answer is parsed', async () => {
    server.set({
      kind: 'answer',
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: { ttl: 60, policies: ['p'], renewable: true } }),
    });
    const info = await client.lookupSelf();
    expect(info).toMatchObject({ ttlSeconds: 60, policies: ['p'], renewable: true });
    server.set({ kind: 'answer', status: 200, headers: { 'content-type': 'application/json' }, body: '{}' });
    await expect(client.lookupSelf()).rejects.toMatchObject({ code: 'vault-bad-response' });
  });

  it('every operation, any status/headers/body: a well-typed result or a typed error, in bounded time', async () => {
    await fc.assert(
      fc.asyncProperty(operation, answer, async (name, fault) => {
        server.set(fault);
        await settlesTyped(name);
      }),
      { numRuns: 600 },
    );
  }, 300_000);

  it('known hostile answers, every operation (pins what the random search found once)', async () => {
    const hostile = [
      ...RAW_BODIES,
      '{"errors":[{"toString":"x"}]}',
      '{"data":{"certificate":{"toString":1}}}',
      '{"data":{"creation_path":{"toString":1}}}',
      '{"data":{"keys":[{"toString":1}]}}',
      '{"data":"a string where an object belongs"}',
      '{"auth":[1,2],"wrap_info":"x"}',
    ];
    for (const name of Object.keys(OPERATIONS)) {
      for (const text of hostile) {
        for (const status of [200, 403, 500]) {
          server.set({ kind: 'answer', status, headers: { 'content-type': 'application/json' }, body: text });
          await settlesTyped(name);
        }
      }
    }
  }, 120_000);

  it('a sign answer without a certificate, or with a ca_chain of the wrong type, is vault-bad-response', async () => {
    // The adapter is the one place an answer's shape is checked (pki/assemble.ts takes the typed answer).
    for (const data of [
      {},
      { certificate: '' },
      { certificate: 'x', serial_number: '1', expiration: 1, ca_chain: 42 },
    ]) {
      server.set({
        kind: 'answer',
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data }),
      });
      const error = await client.sign('pki', 'role', 'csr', { commonName: 'x' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(AgentError.is(error) && error.code).toBe('vault-bad-response');
    }
  });

  it("a CA chain Vault sends that is not a certificate is Vault's bad answer (retryable), not a local failure", async () => {
    for (const ca of [
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
      '-----BEGIN CERTIFICATE-----\nMIIB\n',
    ]) {
      server.set({
        kind: 'answer',
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: { ca_chain: ca } }),
      });
      const error = await client.readCaChain('pki').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(AgentError.is(error) && error.code).toBe('vault-bad-response');
      expect(AgentError.is(error) && error.retryable).toBe(true);
    }
  });

  it('broken transport (reset, stall, half a body): a typed, retryable-class error, never a hang', async () => {
    const fault: fc.Arbitrary<Fault> = fc.oneof(
      fc.constant({ kind: 'reset' as const }),
      fc.constant({ kind: 'stall' as const }),
      fc.record({
        kind: fc.constant('partial' as const),
        status: fc.constantFrom(200, 403, 500),
        body: fc.constantFrom('{"data":{"ttl":', '', '{"errors":["x"'),
        after: fc.constantFrom('stall' as const, 'close' as const),
      }),
    );
    await fc.assert(
      fc.asyncProperty(operation, fault, async (name, f) => {
        server.set(f);
        await settlesTyped(name);
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('Vault warnings of any type reach the result as strings only', async () => {
    await fc.assert(
      fc.asyncProperty(fieldValue, async (warnings) => {
        server.set({
          kind: 'answer',
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            warnings,
            data: { certificate: PEM, serial_number: '01', expiration: 1700000000 },
          }),
        });
        const result = await client.sign('pki', 'role', 'csr', { commonName: 'x' });
        const expected = Array.isArray(warnings) ? warnings.filter((w) => typeof w === 'string') : [];
        expect(result.warnings).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });
});
