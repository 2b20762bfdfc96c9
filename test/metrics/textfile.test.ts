import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { renderMetrics } from '../../src/metrics/render.js';
import { writeMetricsFile } from '../../src/metrics/textfile.js';
import type { MetricsSnapshot } from '../../src/metrics/types.js';

/** A realistic but large textfile (~190 KB), so that a non-atomic write is visibly in progress for a while. */
function versionText(version: number): string {
  const certificates: MetricsSnapshot['certificates'] = Array.from({ length: 400 }, (_, i) => ({
    name: `cert-${i}`,
    mount: 'etcd/prod-eu1/pki',
    role: 'member',
    notAfter: new Date(1_750_000_000_000 + version * 1000),
    renewalTime: new Date(1_740_000_000_000 + version * 1000),
    issueFailuresTotal: version,
    rollbacksTotal: 0,
    upToDate: true,
  }));
  return renderMetrics({ certificates, vaultRequestsTotal: version, clockSkewSeconds: version });
}

// A reader in another thread, polling the file as fast as it can, the way node_exporter would at
// scrape time. A read is complete when it is exactly the text of some version (checked by length
// and the version stamped in its last line). The worker is plain JS, independent of the code under test.
const READER = `
const { readFileSync } = require('node:fs');
const { workerData, parentPort } = require('node:worker_threads');
const stop = new Int32Array(workerData.stop);
let reads = 0, partial = 0, missing = 0, example = '';
const versions = new Set();
while (Atomics.load(stop, 0) === 0) {
  let text;
  try { text = readFileSync(workerData.path, 'utf8'); } catch { missing++; continue; }
  reads++;
  const m = /\\nvault_pki_agent_clock_skew_seconds (\\d+)\\n$/.exec(text);
  const version = m ? Number(m[1]) : -1;
  if (version < 0 || workerData.lengths[version] !== text.length) {
    partial++;
    if (!example) example = 'length ' + text.length + ', ends ' + JSON.stringify(text.slice(-40));
  } else versions.add(version);
}
parentPort.postMessage({ reads, partial, missing, example, versions: versions.size });
`;

interface ReaderReport {
  reads: number;
  partial: number;
  missing: number;
  example: string;
  versions: number;
}

async function withReader(
  path: string,
  lengths: number[],
  write: () => Promise<void>,
): Promise<ReaderReport> {
  const stop = new SharedArrayBuffer(4);
  const worker = new Worker(READER, { eval: true, workerData: { path, lengths, stop } });
  const report = new Promise<ReaderReport>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await new Promise((r) => worker.once('online', r));
  try {
    await write();
  } finally {
    Atomics.store(new Int32Array(stop), 0, 1);
  }
  const result = await report;
  await worker.terminate();
  return result;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vpa-metrics-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('writeMetricsFile', () => {
  const texts = Array.from({ length: 201 }, (_, v) => versionText(v));
  const lengths = texts.map((t) => t.length);

  it('readers during 200 rewrites always see a complete file', async () => {
    const path = join(dir, 'vault-pki-agent.prom');
    await writeMetricsFile(path, texts[0]!);
    const report = await withReader(path, lengths, async () => {
      for (let v = 1; v <= 200; v++) await writeMetricsFile(path, texts[v]!);
    });
    expect(report.partial, report.example).toBe(0);
    expect(report.missing).toBe(0);
    // The reader really overlapped the writes: it read many times and saw the file change.
    expect(report.reads).toBeGreaterThan(200);
    expect(report.versions).toBeGreaterThan(10);
    expect(readFileSync(path, 'utf8')).toBe(texts[200]);
    expect(readdirSync(dir)).toEqual(['vault-pki-agent.prom']);
  });

  it('control: the same reader catches a plain in-place write half done', async () => {
    const path = join(dir, 'naive.prom');
    writeFileSync(path, texts[0]!);
    const report = await withReader(path, lengths, async () => {
      for (let v = 1; v <= 200; v++) await writeFile(path, texts[v]!);
    });
    expect(report.partial, JSON.stringify(report)).toBeGreaterThan(0);
  });

  it('is 0644 whatever the umask, and replaces an existing 0600 file', async () => {
    const path = join(dir, 'm.prom');
    writeFileSync(path, 'old\n', { mode: 0o600 });
    const old = process.umask(0o077);
    try {
      await writeMetricsFile(path, texts[1]!);
    } finally {
      process.umask(old);
    }
    expect(statSync(path).mode & 0o777).toBe(0o644);
  });

  it('names the file when it cannot write, and leaves no temporary file behind', async () => {
    // A missing directory is created; a path through a regular file cannot be.
    writeFileSync(join(dir, 'plain-file'), '');
    await expect(writeMetricsFile(join(dir, 'plain-file', 'm.prom'), 'x\n')).rejects.toThrow(
      /cannot write metrics file .*plain-file\/m\.prom: (ENOTDIR|EEXIST)/,
    );
    await writeMetricsFile(join(dir, 'new-dir', 'm.prom'), 'x\n');
    expect(readFileSync(join(dir, 'new-dir', 'm.prom'), 'utf8')).toBe('x\n');
    rmSync(join(dir, 'new-dir'), { recursive: true });
    rmSync(join(dir, 'plain-file'));
    // The rename fails (the target is a non-empty directory): the temporary file is removed.
    const target = join(dir, 'taken.prom');
    mkdirSync(join(target, 'inside'), { recursive: true });
    const error = await writeMetricsFile(target, texts[1]!).catch((e: unknown) => e);
    expect(AgentError.is(error) && error.exitCode).toBe(6);
    expect(readdirSync(dir)).toEqual(['taken.prom']);
  });
});
