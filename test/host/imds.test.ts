import { afterEach, describe, expect, it } from 'vitest';
import { AgentError, ConfigError, ExitCode } from '../../src/errors.js';
import { createImdsClient } from '../../src/host/imds.js';
import { type FakeImds, startFakeImds } from '../support/fake-imds.js';
import { freePort } from '../support/openbao.js';

const METADATA = {
  'local-ipv4': '10.0.1.23',
  'local-hostname': 'ip-10-0-1-23.eu-west-1.compute.internal',
  'public-ipv4': '203.0.113.7',
  'instance-id': 'i-0123456789abcdef0',
};

/** The config variable as users write it, e.g. ${ec2.local-ipv4}. */
const ec2Var = (key: string) => `\${ec2.${key}}`;

let fake: FakeImds | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function captureError(promise: Promise<unknown>): Promise<AgentError> {
  try {
    await promise;
  } catch (e) {
    if (AgentError.is(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('IMDSv2 client', () => {
  it('returns the requested facts using one session token', async () => {
    fake = await startFakeImds({ metadata: METADATA });
    const client = createImdsClient({ endpoint: fake.endpoint });
    const facts = await client.get(['local-ipv4', 'local-hostname', 'public-ipv4', 'instance-id']);
    expect(facts).toEqual(METADATA);
    expect(fake.requests).toEqual({ token: 1, get: 4, rejected: 0 });
  });

  it('sends the session token on every GET, and the fake refuses a GET without one', async () => {
    fake = await startFakeImds({ metadata: METADATA });
    await createImdsClient({ endpoint: fake.endpoint }).get(['instance-id']);
    expect(fake.getHeaders[0]?.['x-aws-ec2-metadata-token']).toMatch(/^fake-imds-/);

    const bare = await fetch(`${fake.endpoint}/latest/meta-data/instance-id`);
    expect(bare.status).toBe(401);
    const forged = await fetch(`${fake.endpoint}/latest/meta-data/instance-id`, {
      headers: { 'X-aws-ec2-metadata-token': 'fake-imds-forged' },
    });
    expect(forged.status).toBe(401);
    expect(fake.requests.rejected).toBe(2);
  });

  it('leaves a key undefined when IMDS answers 404 (no public IPv4)', async () => {
    const { 'public-ipv4': _, ...withoutPublic } = METADATA;
    fake = await startFakeImds({ metadata: withoutPublic });
    const facts = await createImdsClient({ endpoint: fake.endpoint }).get(['public-ipv4', 'instance-id']);
    expect(facts).toEqual({ 'instance-id': METADATA['instance-id'] });
    expect('public-ipv4' in facts).toBe(false);
  });

  it('gives up with a config error when the metadata service hangs', async () => {
    fake = await startFakeImds({ metadata: METADATA, hang: true });
    const started = Date.now();
    const error = await captureError(
      createImdsClient({ endpoint: fake.endpoint, timeoutMs: 300 }).get(['local-ipv4']),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.exitCode).toBe(ExitCode.config);
    expect(error.message).toContain(ec2Var('local-ipv4'));
    expect(error.message).toContain('did not answer within 300ms');
    expect(error.message).toContain('not running on EC2 or IMDS disabled');
    // Loose bound: the point is that it does not hang, not how fast it is.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('a slow but answering service within the timeout still works', async () => {
    fake = await startFakeImds({ metadata: METADATA, delayMs: 50 });
    const facts = await createImdsClient({ endpoint: fake.endpoint, timeoutMs: 5000 }).get(['instance-id']);
    expect(facts['instance-id']).toBe(METADATA['instance-id']);
  });

  it('connection refused is a clear config error naming every variable that needed it', async () => {
    const port = await freePort();
    const error = await captureError(
      createImdsClient({ endpoint: `http://127.0.0.1:${port}` }).get(['local-ipv4', 'instance-id']),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(`${ec2Var('local-ipv4')}, ${ec2Var('instance-id')}`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('not running on EC2 or IMDS disabled');
  });

  it('honours VPA_IMDS_ENDPOINT when no endpoint is given', async () => {
    fake = await startFakeImds({ metadata: METADATA });
    const previous = process.env.VPA_IMDS_ENDPOINT;
    process.env.VPA_IMDS_ENDPOINT = fake.endpoint;
    try {
      expect(await createImdsClient().get(['local-hostname'])).toEqual({
        'local-hostname': METADATA['local-hostname'],
      });
    } finally {
      if (previous === undefined) delete process.env.VPA_IMDS_ENDPOINT;
      else process.env.VPA_IMDS_ENDPOINT = previous;
    }
  });
});
