/**
 * The set directory as a whole: who owns it, making it root's (and migrating the layout of earlier versions,
 * where it belonged to the set's owner), and what a killed writer leaves in it (leftovers), removed under the
 * lock or reported read-only for `check` and `status`.
 */
import type { Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FilesSpec } from '../config/types.js';
import { WriteError } from '../errors.js';
import { attempt, syncDirectory, toWriteError } from './fs-ops.js';
import {
  DATA_LINK,
  DATA_TMP,
  isGenerationName,
  isHolderAlive,
  LINK_TMP_PREFIX,
  LOCK_FILE,
  PREVIOUS_LINK,
  PREVIOUS_TMP,
  readLockHolder,
  TAKEOVER_FILE,
} from './layout.js';
import { lstatIfExists, readdir, readlink, stat } from './local-fs.js';
import { makeDirectories } from './make-directories.js';
import type { Ownership } from './owners.js';
import {
  agentUid,
  type DirectoryOwnership,
  directoryMatches,
  removeTree,
  takeDirectory,
} from './root-owned.js';
import { assertSafeTarget } from './safety.js';

/** uids that may own what leads to a set directory: root and the agent's own user. */
export function trustedUids(): Set<number> {
  return new Set<number>([0, agentUid()]);
}

/**
 * Owner, group and mode of the set directory and its generation directories: the agent's user, the set's
 * group (else the owner's primary group), `dirMode` without any write bit for group or others (only root may
 * create, rename or remove names there). A non-root owner keeps its way in: the group gets r-x when the owner
 * is in it, else others get search permission (x) only (the names are no secret; the key is 0600, the owner's).
 */
export function directoryOwnership(
  spec: FilesSpec,
  ids: Ownership,
  owner: { primaryGid: number | undefined; member: boolean },
): DirectoryOwnership {
  const gid = ids.gid ?? owner.primaryGid;
  const consumer = ids.uid !== undefined && ids.uid !== agentUid();
  const viaGroup = gid !== undefined && (gid === owner.primaryGid || owner.member);
  // dirMode's owner bits were the consumer's while the directory was its own: it keeps a way in.
  const access = !consumer ? 0 : viaGroup ? 0o050 : 0o001;
  return { uid: agentUid(), gid, mode: (spec.dirMode & 0o755) | access };
}

export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstatIfExists(path);
  } catch (error) {
    throw toWriteError(error, 'inspect', path);
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  const st = await lstatOrUndefined(path);
  return st?.isDirectory() ?? false;
}

/** The generation a pointer symlink names; anything that is not one of ours is refused. */
export async function readPointer(dir: string, link: string): Promise<string | undefined> {
  const path = join(dir, link);
  const st = await lstatOrUndefined(path);
  if (!st) return undefined;
  if (!st.isSymbolicLink())
    throw new WriteError('unsafe-target', `${path} is not a symlink`, { details: { path } });
  const target = await attempt('read link', path, () => readlink(path));
  if (!isGenerationName(target)) {
    throw new WriteError('unsafe-target', `${path} points at "${target}", not at a generation in ${dir}`, {
      details: { path },
    });
  }
  return target;
}

/**
 * Make sure `spec.dir` exists, is safe (safety.ts) and is root's (created here, or taken over from the
 * set's owner through a descriptor). Returns what changed, for the log.
 */
export async function secureSetDirectory(
  spec: FilesSpec,
  ids: Ownership,
  want: DirectoryOwnership,
  create: boolean,
): Promise<{ exists: boolean; changes: string[] }> {
  const trusted = trustedUids();
  let target = await assertSafeTarget(spec.dir, trusted, ids.uid);
  const changes: string[] = [];
  if (!target.real) {
    if (!create) return { exists: false, changes };
    const parent = dirname(spec.dir);
    // One component at a time, each checked before the next: never through a link planted meanwhile.
    if ((await makeDirectories(spec.dir, trusted, 0o755, 0o700)).length > 0)
      changes.push(`${spec.dir}: created`);
    await syncDirectory(parent);
    // Again, now that it all exists: someone may have put a directory of their own on the way meanwhile.
    target = await assertSafeTarget(spec.dir, trusted, ids.uid);
    if (!target.real) throw new WriteError('unsafe-target', `${spec.dir} vanished while it was created`);
  }
  const allowed = new Set(trusted);
  if (ids.uid !== undefined) allowed.add(ids.uid);
  const took = await takeDirectory(target.real, want, allowed);
  if (took) changes.push(took);
  return { exists: true, changes };
}

/** Entries a crashed or interrupted run leaves behind, and generations nothing points at. */
export async function strays(dir: string, keep: ReadonlySet<string>): Promise<string[]> {
  const names = await attempt('list', dir, () => readdir(dir));
  return names.filter(
    (n) =>
      n === DATA_TMP ||
      n === PREVIOUS_TMP ||
      n === LOCK_FILE ||
      n === TAKEOVER_FILE ||
      n.startsWith(`${LOCK_FILE}.`) ||
      n.startsWith(LINK_TMP_PREFIX) ||
      (isGenerationName(n) && !keep.has(n)),
  );
}

/** A generation holds exactly regular files of the set, each with no other name (nothing planted). */
export async function generationIsClean(path: string, names: ReadonlySet<string>): Promise<boolean> {
  const found = await readdir(path).catch(() => undefined);
  if (!found) return false;
  for (const name of found) {
    if (!names.has(name)) return false;
    const st = await lstatIfExists(join(path, name)).catch(() => undefined);
    if (!st?.isFile() || st.nlink !== 1) return false;
  }
  return true;
}

/**
 * Clean-up after a crashed run, and the migration of generation directories to root; the caller holds the
 * lock and has made the set directory root's. Returns what was changed or removed.
 */
export async function recoverLocked(
  dir: string,
  want: DirectoryOwnership,
  names: ReadonlySet<string>,
): Promise<{ removed: string[]; done: string[] }> {
  const done: string[] = [];
  const removed: string[] = [];
  const current = await readPointer(dir, DATA_LINK);
  let previous = await readPointer(dir, PREVIOUS_LINK);
  for (const generation of new Set([current, previous])) {
    if (generation === undefined || !(await isDirectory(join(dir, generation)))) continue;
    const took = await takeDirectory(join(dir, generation), want);
    if (took) done.push(took);
  }
  if (
    previous !== undefined &&
    (previous === current ||
      !(await isDirectory(join(dir, previous))) ||
      !(await generationIsClean(join(dir, previous), names)))
  ) {
    await removeTree(join(dir, PREVIOUS_LINK));
    removed.push(PREVIOUS_LINK);
    previous = undefined;
  }
  const keep = new Set([current, previous].filter((g): g is string => g !== undefined));
  for (const name of await strays(dir, keep)) {
    if (name === LOCK_FILE || name === `${LOCK_FILE}.${process.pid}`) continue; // ours, held right now
    if (name === TAKEOVER_FILE || name.startsWith(`${LOCK_FILE}.`)) {
      // Another writer publishing its lock, or inside a takeover: its file names it.
      const holder = await readLockHolder(join(dir, name));
      if (holder !== undefined && (await isHolderAlive(holder))) continue;
    }
    await removeTree(join(dir, name));
    removed.push(name);
  }
  if (removed.length > 0) done.push(`${dir}: removed leftovers ${removed.join(' ')}`);
  if (done.length > 0) await syncDirectory(dir);
  return { removed, done };
}

/**
 * What a killed writer left in `spec.dir`, read-only (for `check` and `status`): orphan generations (saying
 * whether they hold a private key), temporary links, stale locks; and a set directory still owned by
 * someone other than root. Empty when the directory is clean or absent.
 */
export async function findLeftovers(spec: FilesSpec): Promise<string[]> {
  const dir = spec.dir;
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return [];
  const found: string[] = [];
  if ((st.uid !== 0 && st.uid !== agentUid()) || st.mode & 0o022) {
    found.push(
      `${dir} is owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8)}: the next run makes it root's`,
    );
  }
  const current = await readPointer(dir, DATA_LINK).catch(() => undefined);
  const previous = await readPointer(dir, PREVIOUS_LINK).catch(() => undefined);
  const keep = new Set([current, previous].filter((g): g is string => g !== undefined));
  for (const name of await strays(dir, keep).catch(() => [] as string[])) {
    const path = join(dir, name);
    if (isGenerationName(name)) {
      const key = await lstatIfExists(join(path, spec.names.key)).catch(() => undefined);
      found.push(`${path}: orphan generation${key ? ' holding a private key' : ''}`);
    } else if (name === LOCK_FILE || name === TAKEOVER_FILE || name.startsWith(`${LOCK_FILE}.`)) {
      const holder = await readLockHolder(path);
      if (holder === undefined || (await isHolderAlive(holder))) continue; // gone, or being written now
      found.push(
        `${path}: stale lock (${Number.isInteger(holder.pid) ? `process ${holder.pid} is gone` : 'not a lock file'})`,
      );
    } else {
      found.push(`${path}: temporary link of an interrupted writer`);
    }
  }
  return found;
}

/** True when nothing in the directory needs the lock: root's, generations root's, no leftovers. */
export async function needsTidying(dir: string, want: DirectoryOwnership): Promise<boolean> {
  const st = await attempt('inspect', dir, () => stat(dir));
  if (!directoryMatches(st, want)) return true;
  const current = await readPointer(dir, DATA_LINK);
  const previous = await readPointer(dir, PREVIOUS_LINK);
  for (const generation of new Set([current, previous])) {
    if (generation === undefined) continue;
    const gst = await lstatOrUndefined(join(dir, generation));
    if (!gst) {
      if (generation === previous) return true;
      continue;
    }
    if (!directoryMatches(gst, want)) return true;
  }
  if (previous !== undefined && previous === current) return true;
  const keep = new Set([current, previous].filter((g): g is string => g !== undefined));
  return (await strays(dir, keep)).length > 0;
}
