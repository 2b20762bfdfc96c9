/**
 * A CI-sized fleet boot storm (bench/storm.ts at full size runs in `npm run bench`): 20 agent processes,
 * each with its own token, config and output directory, released at the same moment against one
 * OpenBao behind a rate-limit quota small enough that most of them meet 429s. Every agent must still
 * end with its four certificate sets, none may give up, and every retry must wait at least what the
 * server's Retry-After asked, checked on the wire (recording proxy) and in the agents' own logs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { prepareStormVault, runStorm, type StormReport } from '../support/storm.js';

const AGENTS = 20;
// 20 requests per 2 s window: 80 requests (4 per agent) need four windows, and Retry-After (whole seconds
// left in the window, rounded down) is 1 for the 429s of each window's first second.
const QUOTA = { rate: 20, interval: '2s' };

let vault: TestVault;
let report: StormReport;

beforeAll(async () => {
  vault = await startOpenBao({ name: 'storm', audit: true });
  await prepareStormVault(vault);
  report = await runStorm({
    vault,
    agents: AGENTS,
    work: mkdtempSync(join(tmpdir(), 'vpa-storm-test-')),
    quota: QUOTA,
  });
}, 240_000);

afterAll(async () => {
  await vault?.stop();
});

describe(`fleet boot storm: ${AGENTS} agents, rate limit ${QUOTA.rate} per ${QUOTA.interval}`, () => {
  it('every agent gets all four certificate sets and none gives up', () => {
    const failed = report.outcomes
      .filter((o) => o.code !== 0 || !o.filesOk)
      .map((o) => ({ agent: o.index, exit: o.code ?? o.signal, files: o.filesOk, error: o.lastError }));
    expect(failed).toEqual([]);
    expect(report.succeeded).toBe(AGENTS);
    expect(report.gaveUp).toBe(0);
  });

  it('the quota bit: 429s happened and every one was retried', () => {
    expect(report.wire429).toBeGreaterThan(AGENTS);
    // Nobody gave up, so each 429 was followed by a retry, and the agents logged exactly those.
    const rateLimitRetries = report.outcomes
      .flatMap((o) => o.retryLogs)
      .filter((l) => /rate limit/i.test(l.error));
    expect(rateLimitRetries).toHaveLength(report.wire429);
    expect(report.agentRetries).toBeGreaterThanOrEqual(report.wire429);
  });

  it("the agents' request counts match the wire and OpenBao's audit log", () => {
    // A request lost to a network error (none expected here) is counted by the agent but never answered.
    for (const o of report.outcomes) {
      const lost = o.retryLogs.filter((l) => !/rate limit/i.test(l.error)).length;
      const answered = report.wire.filter((r) => r.agent === o.index).length;
      expect(o.vaultRequests, `agent ${o.index}`).toBe(answered + lost);
    }
    // Requests refused by the quota never reach the audit device.
    expect(report.auditedRequests).toBe(report.wireRequests - report.wire429);
  });

  it('no retry came sooner than Retry-After allowed (on the wire)', () => {
    expect(report.retryAfter.checked).toBe(report.wire429);
    expect(report.retryAfter.nonZero).toBeGreaterThan(0);
    expect(report.retryAfter.violations).toEqual([]);
  });

  it("the agents' logs show delays of at least Retry-After after rate-limit errors", () => {
    const logged = report.outcomes.flatMap((o) => o.retryLogs).filter((l) => /rate limit/i.test(l.error));
    expect(logged.some((l) => l.delayMs >= 1000)).toBe(true);
    // Per agent, its logged delays must cover the Retry-After values it was sent: pair the largest
    // Retry-After with the largest delay, and so on (a valid pairing exists iff this one holds).
    for (const o of report.outcomes) {
      const asked = report.wire
        .filter((r) => r.agent === o.index && r.status === 429)
        .map((r) => (r.retryAfterS ?? 0) * 1000)
        .sort((a, b) => b - a);
      const waited = o.retryLogs
        .filter((l) => /rate limit/i.test(l.error))
        .map((l) => l.delayMs)
        .sort((a, b) => b - a);
      expect(waited.length, `agent ${o.index}`).toBe(asked.length);
      asked.forEach((ms, k) => {
        expect(waited[k], `agent ${o.index}, retry ${k}`).toBeGreaterThanOrEqual(ms);
      });
    }
  });
});
