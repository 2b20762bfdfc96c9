/**
 * The transport against a hostile server (issue 13, point 5): an answer larger than any real Vault answer is
 * refused before it is buffered whole, and a request in flight is cut at the command's deadline, whether
 * the server stalls in the middle of the headers or of the body. Through the real client adapter, so the
 * typed error (code, exit code, message) is what the agent would report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentError, ExitCode } from '../../src/errors.js';
import { createVaultClient } from '../../src/vault/client.js';
import { type HostileServer, startHostileServer } from '../support/hostile-server.js';
import { createMemoryLogger } from '../support/memory-logger.js';

let server: HostileServer;
const TOKEN = 'hostile-token-0123456789abcdef';

beforeAll(async () => {
  server = await startHostileServer();
});
afterAll(async () => {
  await server?.close();
});

function client(opts: { timeoutMs: number; requestTimeoutMs?: number }) {
  return createVaultClient({
    settings: {
      address: server.address,
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
      skipVerify: false,
    },
    token: TOKEN,
    timeoutMs: opts.timeoutMs,
    backoff: { baseMs: 50, capMs: 200 },
    log: createMemoryLogger('debug'),
  });
}

async function caught(p: Promise<unknown>): Promise<AgentError> {
  try {
    await p;
  } catch (e) {
    if (AgentError.is(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

const HUGE = 64 * 1024 * 1024;

/** The answer cap docs/ARCHITECTURE.md promises (4 MiB). */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

describe('transport: an answer larger than any Vault answer', () => {
  it('streamed without Content-Length: refused after the cap, not buffered whole (vault-bad-response, exit 5)', async () => {
    server.set({ kind: 'huge', announce: false, limitBytes: HUGE });
    const e = await caught(client({ timeoutMs: 10_000 }).sign('pki', 'r', 'csr', { commonName: 'x' }));
    expect(e.code).toBe('vault-bad-response');
    expect(e.exitCode).toBe(ExitCode.vaultUnavailable);
    expect(e.message).toMatch(/too large to be Vault's/);
    expect(e.message).toContain('pki/sign/r');
    expect(e.message).not.toContain(TOKEN);
    // Not retried: one request.
    expect(server.requests()).toHaveLength(1);
    // The client stopped reading: what the server got out is the cap plus socket buffers, far below 64 MiB.
    await new Promise((r) => setTimeout(r, 200));
    expect(server.bodyBytesSent()).toBeLessThan(MAX_RESPONSE_BYTES + 16 * 1024 * 1024);
  });

  it('announced by Content-Length: refused before the body is read', async () => {
    server.set({ kind: 'huge', announce: true, limitBytes: HUGE });
    const e = await caught(client({ timeoutMs: 10_000 }).readCaChain('pki'));
    expect(e.code).toBe('vault-bad-response');
    expect(e.message).toMatch(
      /announces 67108866 bytes \(64 MiB\), more than the 4 MiB any Vault answer needs/,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(server.bodyBytesSent()).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('transport: a request in flight is cut at the deadline', () => {
  for (const kind of ['stall-headers', 'stall-body'] as const) {
    it(`${kind}: the call fails at the deadline (not after the 30 s request timeout), exit 5 naming it`, async () => {
      server.set({ kind });
      const started = Date.now();
      const e = await caught(client({ timeoutMs: 1_500 }).lookupSelf());
      const took = Date.now() - started;
      expect(e.code).toBe('vault-unavailable');
      expect(e.exitCode).toBe(ExitCode.vaultUnavailable);
      expect(e.message).toMatch(/gave no complete answer to auth\/token\/lookup-self before the deadline/);
      expect(e.message).toMatch(/deadline reached/);
      expect(took).toBeGreaterThanOrEqual(1_400);
      // Cut at the deadline; a last attempt started at the deadline gets at most 1 s of grace.
      expect(took).toBeLessThan(1_500 + 1_000 + 1_000);
    });
  }

  it('the per-request timeout still applies within a long deadline', async () => {
    server.set({ kind: 'stall-body' });
    const started = Date.now();
    const e = await caught(client({ timeoutMs: 0, requestTimeoutMs: 300 }).lookupSelf());
    expect(e.code).toBe('vault-unavailable');
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
