/**
 * The set directory's lock (src/files/layout.ts) across processes: a stale lock (its holder died) is taken
 * over by exactly one writer even when several find it at once, and a lock left by a writer of an earlier
 * boot is stale whatever process has its pid now.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockDirectory } from '../../src/files/layout.js';

const dirs: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpa-lock-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const WORKER = new URL('../support/lock-worker.ts', import.meta.url).pathname;
const TSX = new URL('../../node_modules/.bin/tsx', import.meta.url).pathname;

function runWorker(dir: string, rounds: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(TSX, [WORKER, dir, String(rounds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('close', (code) => resolve({ code, out: out.trim() }));
  });
}

describe('set directory lock', () => {
  it('lets exactly one of several writers take over a stale lock (no two writers inside at once)', async () => {
    const dir = scratch();
    const results = await Promise.all([1, 2, 3, 4].map(() => runWorker(dir, 400)));
    for (const r of results) expect(r.out, r.out).toMatch(/^ok 400 \d+$/);
    // Not vacuous: stale locks were planted and taken over many times.
    const planted = results.reduce((n, r) => n + Number(r.out.split(' ')[2]), 0);
    expect(planted).toBeGreaterThan(100);
    expect(existsSync(join(dir, '..lock'))).toBe(false);
    expect(existsSync(join(dir, '..lock-takeover'))).toBe(false);
  }, 120_000);

  it('takes over a lock written during an earlier boot, even when its pid is alive now', async () => {
    const dir = scratch();
    const alive = process.ppid; // some live process that is not us
    writeFileSync(join(dir, '..lock'), `${alive} 00000000-0000-4000-8000-000000000000\n`);
    const release = await lockDirectory(dir);
    const [pid, boot] = readFileSync(join(dir, '..lock'), 'utf8').trim().split(' ');
    expect(Number(pid)).toBe(process.pid);
    expect(boot).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    await release();
    expect(existsSync(join(dir, '..lock'))).toBe(false);
  });

  it('respects a live holder of this boot, and an old-format lock (pid only) of a live process', async () => {
    const dir = scratch();
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    for (const content of [`${process.ppid} ${boot}\n`, `${process.ppid}\n`]) {
      writeFileSync(join(dir, '..lock'), content);
      await expect(lockDirectory(dir)).rejects.toThrow(`is being written by process ${process.ppid}`);
      expect(readFileSync(join(dir, '..lock'), 'utf8')).toBe(content);
    }
  });

  it('waits for a live holder until the deadline: takes the lock once released, or fails at the deadline', async () => {
    const dir = scratch();
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    writeFileSync(join(dir, '..lock'), `${process.ppid} ${boot}\n`);
    setTimeout(() => rmSync(join(dir, '..lock')), 300);
    const started = Date.now();
    const release = await lockDirectory(dir, { until: Date.now() + 10_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(readFileSync(join(dir, '..lock'), 'utf8')).toContain(`${process.pid} `);
    await release();

    writeFileSync(join(dir, '..lock'), `${process.ppid} ${boot}\n`);
    const again = Date.now();
    await expect(lockDirectory(dir, { until: Date.now() + 600 })).rejects.toThrow(
      `is being written by process ${process.ppid}`,
    );
    expect(Date.now() - again).toBeGreaterThanOrEqual(550);
  });

  it('a FIFO, a directory or a symlink at ..lock is no lock: taken over at once, never read', async () => {
    const dir = scratch();
    const outside = join(scratch(), 'outside');
    writeFileSync(outside, `${process.ppid}\n`); // names a live process: followed, it would block the lock
    for (const plant of [
      () => execFileSync('mkfifo', [join(dir, '..lock')]),
      () => mkdirSync(join(dir, '..lock', 'sub'), { recursive: true }),
      () => symlinkSync(outside, join(dir, '..lock')),
    ]) {
      plant();
      const release = await lockDirectory(dir);
      expect(readFileSync(join(dir, '..lock'), 'utf8')).toContain(`${process.pid} `);
      await release();
    }
    expect(readFileSync(outside, 'utf8')).toBe(`${process.ppid}\n`);
  });
});
