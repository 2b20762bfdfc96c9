/**
 * SIGKILL a writer at random moments, again and again: after every kill a reader must find a
 * complete set, all four files from the same pair, nothing truncated, and the next writer must
 * clean up what the killed one left behind.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGenerationName } from '../../src/files/layout.js';
import { readCertificateSet } from '../../src/files/read-set.js';
import { tidyCertificateDir } from '../../src/files/recover.js';
import { writeCertificateSet } from '../../src/files/write-set.js';
import { asFiles, keyMatchesCert, makePair, type PemSet, specFor } from '../support/cert-pairs.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');
const LOOP = join(REPO_ROOT, 'test/fixtures/scripts/files-writer-loop.ts');
const KILLS = Number(process.env.VPA_FILES_CRASH_KILLS ?? 200);
const MIN_PASSES = 200;
const MAX_DELAY_MS = 30;

interface Writer {
  /** The tsx launcher; `pid()` is the node process that really writes. */
  child: ChildProcessWithoutNullStreams;
  pid: () => number;
  ready: Promise<void>;
  /** Resolves after the first completed write pass (or when the writer is gone). */
  firstPass: Promise<void>;
  closed: Promise<void>;
  passes: () => number;
  stderr: () => string;
}

function startWriter(dir: string, pairsFile: string): Writer {
  const child = spawn(TSX, [LOOP, dir, pairsFile, 'forever'], { cwd: REPO_ROOT, stdio: 'pipe' });
  let passes = 0;
  let pid = 0;
  let stderr = '';
  let pending = '';
  let markReady: () => void = () => undefined;
  let markFirstPass: () => void = () => undefined;
  const firstPass = new Promise<void>((res) => {
    markFirstPass = res;
  });
  let failReady: (e: Error) => void = () => undefined;
  const ready = new Promise<void>((res, rej) => {
    markReady = res;
    failReady = rej;
  });
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('ready ')) {
        pid = Number(line.slice('ready '.length));
        markReady();
      }
      if (line === 'pass') {
        passes++;
        markFirstPass();
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  ready.catch(() => undefined); // a writer killed before it was ready is not an unhandled rejection
  const closed = new Promise<void>((res) => child.on('close', () => res()));
  void closed.then(markFirstPass);
  child.on('exit', () => failReady(new Error(`writer exited before it was ready: ${stderr}`)));
  return { child, ready, firstPass, closed, pid: () => pid, passes: () => passes, stderr: () => stderr };
}

/** SIGKILL a pid that may already have exited on its own (its stderr then says why). */
function killQuietly(pid: number): void {
  try {
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

let base: string;
let pairs: PemSet[];

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'vpa-crash-'));
  pairs = [makePair('A'), makePair('B')];
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

describe('crash safety', () => {
  it(`a reader never sees a mixed or partial set across ${KILLS} SIGKILLs of the writer`, async () => {
    const dir = join(base, 'set');
    const spec = specFor(dir, { dirMode: 0o755 });
    await writeCertificateSet(spec, asFiles(pairs[0] as PemSet));
    const pairsFile = join(base, 'pairs.json');
    writeFileSync(pairsFile, JSON.stringify(pairs.map(asFiles)));

    const bad: string[] = [];
    let passes = 0;
    let kills = 0;
    let killedMidWrite = 0;
    let maxGenerations = 0;
    const seenPairs = new Set<number>();
    // The next writer loads (tsx start-up) while the current one writes and is killed.
    let next = startWriter(dir, pairsFile);
    const started = Date.now();
    try {
      while ((kills < KILLS || passes < MIN_PASSES) && kills < KILLS * 5) {
        const writer = next;
        await writer.ready;
        next = startWriter(dir, pairsFile);
        writer.child.stdin.write('go\n');
        // Half of the kills count from the start (they hit the clean-up after the previous crash
        // and the first switch), half from the end of the first completed switch.
        if (kills % 2 === 1) await writer.firstPass;
        await new Promise((r) => setTimeout(r, Math.random() * MAX_DELAY_MS));
        killQuietly(writer.pid());
        writer.child.kill('SIGKILL');
        await writer.closed;
        kills++;
        passes += writer.passes();
        if (writer.stderr().trim() !== '') bad.push(`kill ${kills}: writer said ${writer.stderr().trim()}`);

        // What the killed writer left behind (evidence that kills land in the middle of a switch).
        const names = readdirSync(dir);
        const generationCount = names.filter(isGenerationName).length;
        maxGenerations = Math.max(maxGenerations, generationCount);
        if (names.includes('..data_tmp') || names.includes('..lock') || generationCount > 2) killedMidWrite++;

        // Read the way a consumer does: open dir/cert.pem, then dir/key.pem, ...
        try {
          const seen = {
            cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
            key: readFileSync(join(dir, 'key.pem'), 'utf8'),
            ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
            fullchain: readFileSync(join(dir, 'fullchain.pem'), 'utf8'),
          };
          const index = pairs.findIndex((p) => p.cert === seen.cert);
          const pair = pairs[index];
          if (!pair)
            bad.push(`kill ${kills}: cert.pem is not any pair's certificate (${seen.cert.length} bytes)`);
          else if (seen.key !== pair.key || seen.ca !== pair.ca || seen.fullchain !== pair.fullchain)
            bad.push(`kill ${kills}: mixed or truncated set (cert of pair ${index})`);
          else if (!keyMatchesCert(seen.key, seen.cert)) bad.push(`kill ${kills}: key does not match cert`);
          else seenPairs.add(index);
        } catch (error) {
          bad.push(`kill ${kills}: ${(error as Error).message}`);
        }
      }
    } finally {
      await next.ready.catch(() => undefined);
      killQuietly(next.pid());
      next.child.kill('SIGKILL');
      await next.closed;
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `[crash-safety] ${kills} kills, ${passes} completed write passes, ${killedMidWrite} kills left leftovers, ${seconds}s`,
    );

    expect(bad).toEqual([]);
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    expect(passes).toBeGreaterThanOrEqual(MIN_PASSES);
    // Both sets were current at some point, and some kills interrupted a switch.
    expect(seenPairs.size).toBe(2);
    expect(killedMidWrite).toBeGreaterThan(0);
    // Each new writer cleaned up after the killed one: leftovers never pile up.
    expect(maxGenerations).toBeLessThanOrEqual(3);

    // The recover path leaves the current generation and at most the previous one, nothing else.
    await tidyCertificateDir(spec);
    const after = readdirSync(dir).filter((n) => n.startsWith('..'));
    const pointers = after.filter((n) => !isGenerationName(n)).sort();
    const referenced = pointers.map((p) => readlinkSync(join(dir, p))).sort();
    expect(['..data', '..data,..previous']).toContain(pointers.join(','));
    expect(after.filter(isGenerationName).sort()).toEqual([...new Set(referenced)].sort());
    const read = await readCertificateSet(spec);
    expect(read.complete).toBe(true);
    expect(keyMatchesCert(read.files.key as string, read.files.cert as string)).toBe(true);
  }, 600_000);
});
