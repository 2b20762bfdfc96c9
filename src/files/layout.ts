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
import { constants } from 'node:fs';
import { join } from 'node:path';
import { WriteError } from '../errors.js';
import { attempt, errnoOf } from './fs-ops.js';
import { link, open, readFile, removeFile } from './local-fs.js';
import { agentUid, readRegularFile, removeTree } from './root-owned.js';

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

/** A process is alive when signal 0 reaches it and it is not a zombie awaiting its reaper. */
async function isProcessAlive(pid: number): Promise<boolean> {
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

/** This boot's id (Linux); '' where there is none. Read once. */
let bootIdCache: Promise<string> | undefined;
const bootId = () =>
  (bootIdCache ??= readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
    (text) => text.trim(),
    () => '',
  ));

/** What a lock file says: `<pid> <boot id>` (older agents wrote the pid alone). */
export interface LockHolder {
  pid: number;
  bootId?: string;
}

/** Longest lock file the agent reads: `<pid> <boot id>` is under 50 bytes. */
const LOCK_FILE_MAX = 256;

/**
 * The holder named in a lock file; undefined when the file is not there. Anything else in its place (a
 * FIFO, a symlink, a directory, a huge file: never read, never waited on) names no live holder, so it is
 * taken over like a stale lock.
 */
export async function readLockHolder(path: string): Promise<LockHolder | undefined> {
  // A lock has two names while it is being published (link(2) from `..lock.<pid>`).
  const read = await readRegularFile(path, LOCK_FILE_MAX, { allowLinks: true });
  if (read.errno === 'ENOENT') return undefined;
  if (!read.data) return { pid: Number.NaN };
  // Only a lock this agent's user made counts: one a set's owner planted (before its directory was taken
  // over) is stale, so it cannot hold the set for the whole --timeout of every run (review F3).
  if (read.stats?.uid !== agentUid()) return { pid: Number.NaN };
  const [pid, boot] = read.data.toString('utf8').trim().split(/\s+/);
  return { pid: Number(pid), bootId: boot || undefined };
}

/**
 * Whether the holder named in a lock file may still be writing. Not when the file is garbled, names this
 * process (an earlier run with the same pid), names another boot (the machine rebooted while a writer held
 * the lock: its pid may well be some other process now), or names a process that is gone.
 */
export async function isHolderAlive(holder: LockHolder): Promise<boolean> {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0 || holder.pid === process.pid) return false;
  const current = await bootId();
  if (holder.bootId !== undefined && current !== '' && holder.bootId !== current) return false;
  return isProcessAlive(holder.pid);
}

// Serialises writers inside this process (the lock file only sees other processes).
const inProcess = new Map<string, Promise<void>>();

/** Only one writer at a time may remove a stale lock: see takeOverStaleLock. */
export const TAKEOVER_FILE = `${LOCK_FILE}-takeover`;
const TAKEOVER_WAIT_MS = 5;
const TAKEOVER_ROUNDS = 400;

const busy = (dir: string, path: string, pid: number) =>
  new WriteError('write-failed', `${dir} is being written by process ${pid} (${path})`, {
    retryable: true,
    details: { path },
  });

/**
 * Removes the lock at `lockPath` if its holder is (still) dead, inside the takeover section `..lock-takeover`
 * (published with link(2) from our own `tmp`, like the lock). Without it two writers that both found the lock
 * stale could both remove "it": the second one would remove the fresh lock the first one had just taken, and
 * both would write the set at once. Inside the section the lock cannot change under us: only a takeover
 * removes a lock, and a new lock can only be linked where there is none.
 *
 * A takeover section whose holder died (it lasts microseconds) is removed without a section of its own: two
 * writers would have to find the same dead one at the same moment, after a crash inside that section.
 */
async function takeOverStaleLock(
  dir: string,
  tmp: string,
  lockPath: string,
  until: number | undefined,
): Promise<void> {
  const sectionPath = join(dir, TAKEOVER_FILE);
  for (let round = 0; ; round++) {
    try {
      await link(tmp, sectionPath);
      break;
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    }
    const holder = await readLockHolder(sectionPath);
    if (holder === undefined) continue;
    if (!(await isHolderAlive(holder))) {
      await removeTree(sectionPath);
      continue;
    }
    // The section lasts microseconds, but its holder may not be scheduled for a while on a busy machine.
    if (round >= TAKEOVER_ROUNDS && (until === undefined || Date.now() >= until))
      throw busy(dir, sectionPath, holder.pid);
    await sleep(TAKEOVER_WAIT_MS);
  }
  try {
    const holder = await readLockHolder(lockPath);
    if (holder !== undefined && !(await isHolderAlive(holder))) await removeTree(lockPath);
  } finally {
    await removeFile(sectionPath);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polling interval while a live writer holds the lock: from 20 ms up to 500 ms, with jitter. */
const waitMs = (round: number) => Math.min(500, 20 * 2 ** Math.min(round, 5)) * (0.5 + Math.random() / 2);

export interface LockOptions {
  /**
   * Wait for a live holder until this time (epoch ms), e.g. the run's `--timeout` deadline; then (or at once
   * without it) fail with a retryable "is being written by process N".
   */
  until?: number;
}

/** Create our `..lock.<pid>` exclusively, never through a name someone else put there. */
async function writeOwnLockFile(tmp: string, content: string): Promise<void> {
  await removeFile(tmp);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const fh = await open(tmp, flags, 0o600);
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
}

/**
 * Exclusive lock on a set directory across processes: `..lock` holds the holder's pid and boot id, published
 * with link(2) so it never exists empty. A lock whose holder is dead (SIGKILL, crash, power loss) is taken
 * over, one writer at a time (takeOverStaleLock). A live holder is waited for until `options.until`.
 */
export async function lockDirectory(dir: string, options: LockOptions = {}): Promise<() => Promise<void>> {
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
      const boot = await bootId();
      await writeOwnLockFile(tmp, `${process.pid}${boot ? ` ${boot}` : ''}\n`);
      try {
        for (let waited = 0; ; ) {
          try {
            await link(tmp, lockPath);
            return;
          } catch (error) {
            if (errnoOf(error) !== 'EEXIST') throw error;
          }
          const holder = await readLockHolder(lockPath);
          if (holder === undefined) continue; // released in the meantime
          if (await isHolderAlive(holder)) {
            const left = (options.until ?? 0) - Date.now();
            if (left <= 0) throw busy(dir, lockPath, holder.pid);
            await sleep(Math.min(left, waitMs(waited++)));
            continue;
          }
          await takeOverStaleLock(dir, tmp, lockPath, options.until);
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
