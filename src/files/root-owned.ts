/**
 * Directories only root can change (issue 13). The set directory and its generation directories belong to
 * the agent's user (root) and are writable by nobody else; consumers read through the group and their own
 * files. Inside such a directory no other user can create, rename or remove a name, so a path the agent
 * checked keeps naming the same thing until the agent itself changes it.
 *
 * Node has no openat/unlinkat, so everything here works by path; it is safe because a directory is first
 * made root's through a descriptor opened O_DIRECTORY|O_NOFOLLOW (fchown + fchmod: the chmod also narrows
 * an ACL's mask, so no named ACL entry keeps write access), and only then are names inside it used. A
 * directory that cannot be opened that way (a symlink swapped in) is an error, never followed.
 */
import { constants, type Stats } from 'node:fs';
import { join } from 'node:path';
import { WriteError } from '../errors.js';
import { attempt, errnoOf } from './fs-ops.js';
import { lstatIfExists, open, readdir, removeFile, rmdir } from './local-fs.js';

export interface DirectoryOwnership {
  uid: number;
  /** undefined: keep the group it has. */
  gid: number | undefined;
  mode: number;
}

/** The agent's own uid (root in production). */
export const agentUid = (): number => process.geteuid?.() ?? 0;

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** True when `st` is a directory with exactly this owner, group and mode. */
export function directoryMatches(st: Stats, want: DirectoryOwnership): boolean {
  return (
    st.isDirectory() &&
    st.uid === want.uid &&
    (want.gid === undefined || st.gid === want.gid) &&
    (st.mode & 0o7777) === want.mode
  );
}

/**
 * Make the directory at `path` (not a symlink) owned and moded as wanted, through a descriptor.
 * `allowedOwners`: who may own it before (anyone else: refused). Returns what it was, or undefined when
 * nothing had to change.
 */
export async function takeDirectory(
  path: string,
  want: DirectoryOwnership,
  allowedOwners?: ReadonlySet<number>,
): Promise<string | undefined> {
  return attempt('secure', path, async () => {
    const fh = await open(path, DIR_FLAGS);
    try {
      const st = await fh.stat();
      if (!st.isDirectory()) throw new WriteError('unsafe-target', `${path} is not a directory`);
      if (directoryMatches(st, want)) return undefined;
      if (allowedOwners && !allowedOwners.has(st.uid)) {
        throw new WriteError('unsafe-target', `refusing to take over ${path}: it is owned by uid ${st.uid}`, {
          details: { path },
        });
      }
      await fh.chown(want.uid, want.gid ?? -1);
      await fh.chmod(want.mode);
      return `${path}: owner ${st.uid}:${st.gid} mode ${(st.mode & 0o7777).toString(8)} -> ${want.uid}:${want.gid ?? st.gid} ${want.mode.toString(8)}`;
    } finally {
      await fh.close();
    }
  });
}

/** Deepest nesting removeTree goes into (a set holds one level of generation directories). */
const MAX_DEPTH = 8;

/**
 * Remove `path` whatever it is, never following a symlink and never reading a FIFO: a file, link, FIFO,
 * socket or device is unlinked; a directory is first made root's 0700 through a descriptor (so nobody else
 * can change its entries any more), then emptied the same way, then removed. The caller guarantees that
 * only root can rename or remove names in the directory holding `path`.
 */
export async function removeTree(path: string, depth = 0): Promise<void> {
  const st = await attempt('inspect', path, () => lstatIfExists(path));
  if (!st) return;
  if (!st.isDirectory()) {
    await attempt('remove', path, () => removeFile(path));
    return;
  }
  if (depth >= MAX_DEPTH) {
    throw new WriteError('write-failed', `cannot remove ${path}: nested deeper than ${MAX_DEPTH} levels`, {
      details: { path },
    });
  }
  try {
    await takeDirectory(path, { uid: agentUid(), gid: undefined, mode: 0o700 });
  } catch (error) {
    // Gone meanwhile (another writer of ours removed it): nothing to do.
    if (errnoOf((error as { cause?: unknown }).cause) === 'ENOENT') return;
    throw error;
  }
  for (const name of await attempt('list', path, () => readdir(path))) {
    await removeTree(join(path, name), depth + 1);
  }
  await attempt('remove', path, async () => {
    try {
      await rmdir(path);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
  });
}

/** Largest file the agent reads from a set directory (a set is a few KiB; a CA bundle well under 1 MiB). */
export const MAX_SET_FILE_BYTES = 4 * 1024 * 1024;

export interface RegularFileRead {
  data?: Buffer;
  stats?: Stats;
  /** Why there is no data: an errno, or ENOTREG (not a regular file), EMLINK (hard-linked), EFBIG (too big). */
  errno?: string;
}

/**
 * Read a regular file without following a symlink (O_NOFOLLOW), without blocking on a FIFO (O_NONBLOCK;
 * it is then refused as not a regular file) and without reading more than `limit` bytes. A file with
 * other hard links is refused too: its name in the set is not the only one, so it is not the agent's.
 */
export async function readRegularFile(
  path: string,
  limit = MAX_SET_FILE_BYTES,
  opts: { allowLinks?: boolean } = {},
): Promise<RegularFileRead> {
  try {
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const stats = await fh.stat();
      if (!stats.isFile()) return { stats, errno: stats.isDirectory() ? 'EISDIR' : 'ENOTREG' };
      if (stats.nlink !== 1 && !opts.allowLinks) return { stats, errno: 'EMLINK' };
      if (stats.size > limit) return { stats, errno: 'EFBIG' };
      const data = await fh.readUpTo(limit + 1);
      if (data.length > limit) return { stats, errno: 'EFBIG' };
      return { data, stats };
    } finally {
      await fh.close();
    }
  } catch (error) {
    return { errno: errnoOf(error) ?? 'unknown' };
  }
}
