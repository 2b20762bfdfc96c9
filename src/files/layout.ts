/**
 * The on-disk layout inside `files.dir` (the Kubernetes AtomicWriter pattern):
 *
 *   ..2025_01_02_15_04_05_123.9f3c01ab/   a generation: the real files of one set
 *   ..data      -> ..2025_01_02_15_04_05_123.9f3c01ab   the current generation
 *   ..previous  -> ..2025_01_01_...                      the one kept for rollback
 *   cert.pem    -> ..data/cert.pem   (and key.pem, ca.pem, fullchain.pem; created once)
 *
 * Everything the writer owns starts with "..", which no configured file name may use.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { WriteError } from '../errors.js';
import { attempt, errnoOf } from './fs-ops.js';
import { link, readFile, removeFile, writeFile } from './local-fs.js';

export const DATA_LINK = '..data';
export const DATA_TMP = '..data_tmp';
export const PREVIOUS_LINK = '..previous';
export const PREVIOUS_TMP = '..previous_tmp';
/** Prefix of the temporary symlink renamed over a user-visible name. */
export const LINK_TMP_PREFIX = '..tmp.';
export const LOCK_FILE = '..lock';

const GENERATION = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}_\d{3}\.[0-9a-f]{8}$/;

export function isGenerationName(name: string): boolean {
  return GENERATION.test(name);
}

export function newGenerationName(now: Date = new Date()): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const stamp = [
    now.getUTCFullYear(),
    pad(now.getUTCMonth() + 1),
    pad(now.getUTCDate()),
    pad(now.getUTCHours()),
    pad(now.getUTCMinutes()),
    pad(now.getUTCSeconds()),
    pad(now.getUTCMilliseconds(), 3),
  ].join('_');
  return `..${stamp}.${randomBytes(4).toString('hex')}`;
}

/** Target a user-visible symlink must have. */
export function visibleLinkTarget(name: string): string {
  return `${DATA_LINK}/${name}`;
}

/** A lock holder is alive when signal 0 reaches it and it is not a zombie awaiting its reaper. */
export async function isProcessAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (errnoOf(error) !== 'EPERM') return false;
  }
  // "pid (comm) S ...": the state follows the last ')'.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return true; // no procfs: trust the signal
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X' && state !== '';
}

// Serialises writers inside this process (the lock file only sees other processes).
const inProcess = new Map<string, Promise<void>>();

/**
 * Exclusive lock on a set directory across processes: `..lock` holds the holder's pid, published
 * with link(2) so it never exists empty. A lock whose holder is dead (SIGKILL, crash) is taken over.
 */
export async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const previous = inProcess.get(dir) ?? Promise.resolve();
  let releaseInProcess: () => void = () => undefined;
  const mine = new Promise<void>((resolve) => {
    releaseInProcess = resolve;
  });
  const chained = previous.then(() => mine);
  inProcess.set(dir, chained);
  await previous;

  const lockPath = join(dir, LOCK_FILE);
  const tmp = join(dir, `${LOCK_FILE}.${process.pid}`);
  try {
    await attempt('lock', lockPath, async () => {
      await writeFile(tmp, `${process.pid}\n`, { mode: 0o600, flag: 'w' });
      try {
        for (let round = 0; ; round++) {
          try {
            await link(tmp, lockPath);
            return;
          } catch (error) {
            if (errnoOf(error) !== 'EEXIST' || round >= 3) throw error;
          }
          const holder = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
          if (
            Number.isInteger(holder) &&
            holder > 0 &&
            holder !== process.pid &&
            (await isProcessAlive(holder))
          ) {
            throw new WriteError(
              'write-failed',
              `${dir} is being written by process ${holder} (${lockPath})`,
              {
                retryable: true,
                details: { path: lockPath },
              },
            );
          }
          // Dead holder (or an earlier run of this pid): the lock is stale.
          await removeFile(lockPath);
        }
      } finally {
        await removeFile(tmp);
      }
    });
  } catch (error) {
    releaseInProcess();
    if (inProcess.get(dir) === chained) inProcess.delete(dir);
    throw error;
  }
  return async () => {
    try {
      await removeFile(lockPath);
    } finally {
      releaseInProcess();
      if (inProcess.get(dir) === chained) inProcess.delete(dir);
    }
  };
}
