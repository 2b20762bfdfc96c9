/**
 * Which set directories the root agent may write into. The rule (issue 13): nobody but root may be able to
 * change what the path `files.dir` names. Every directory on the way (literal and through symlinks) must be
 * owned by root (or the agent's own user) and writable by nobody else, unless it has the sticky bit (like
 * /tmp, where others cannot rename or remove what root owns); every symlink on the way must be owned by root.
 * Then no other user can swap a component between this check and any later use of the path: the check
 * establishes something only root can undo. The set directory itself may also still belong to the set's
 * configured owner (the layout of earlier versions): the writer then takes it over (root-owned.ts).
 */
import { isAbsolute, join, normalize, sep } from 'node:path';
import { WriteError } from '../errors.js';
import { attempt } from './fs-ops.js';
import { lstatIfExists, readlink } from './local-fs.js';

const STICKY = 0o1000;
const WORLD_WRITE = 0o002;
const GROUP_WRITE = 0o020;
/** Symlinks followed on the way, at most (the kernel's own limit is 40). */
const MAX_LINKS = 40;

function unsafe(path: string, why: string): WriteError {
  return new WriteError('unsafe-target', `refusing to write certificates under ${path}: ${why}`, {
    details: { path },
  });
}

export interface SafeTarget {
  /** The directory the path resolves to (every symlink followed), when it exists. */
  real: string | undefined;
  /** Owner of the set directory when it exists. */
  uid: number | undefined;
  /**
   * When the path does not exist: the deepest directory that does, reached through checked components only
   * (trusted links followed), and the names still to be made below it. makeDirectories() creates from here,
   * never resolving the path again (a link raced in at a name seen missing is never followed).
   */
  missing?: { under: string; names: string[] };
}

/**
 * Check `dir` (existing or not) before anything is created in it, and again once it exists.
 * `trusted` = uids that may own directories and symlinks on the way (root, the agent). `setOwner` may
 * also own the set directory itself (to be taken over).
 */
export async function assertSafeTarget(
  dir: string,
  trusted: ReadonlySet<number>,
  setOwner?: number,
): Promise<SafeTarget> {
  if (!isAbsolute(dir) || normalize(dir) !== dir || (dir.endsWith(sep) && dir !== sep) || dir === sep) {
    throw unsafe(dir, 'files.dir must be an absolute, normalised path below /');
  }
  const owners = () => [...trusted].sort((a, b) => a - b).join(', ');
  // Components still to walk; `link` marks those that came from a symlink's target.
  const pending = dir
    .split(sep)
    .filter(Boolean)
    .map((part) => ({ part, link: false }));
  let resolved: string = sep;
  let followed = false;
  let links = 0;
  const where = (p: string) => (followed ? `${p} (resolved from ${dir})` : p);

  const checkAncestor = async (p: string): Promise<void> => {
    const st = await attempt('inspect', p, () => lstatIfExists(p));
    if (!st) throw unsafe(dir, `${where(p)} vanished`);
    if (!trusted.has(st.uid))
      throw unsafe(dir, `${where(p)} is owned by uid ${st.uid} (trusted: ${owners()})`);
    if (st.mode & (WORLD_WRITE | GROUP_WRITE) && !(st.mode & STICKY)) {
      const who = st.mode & WORLD_WRITE ? 'world-writable' : `writable by group ${st.gid}`;
      throw unsafe(dir, `${where(p)} is ${who} without the sticky bit`);
    }
  };
  await checkAncestor(sep);

  while (pending.length > 0) {
    const { part, link } = pending.shift() as { part: string; link: boolean };
    if (part === '.') continue;
    if (part === '..') {
      resolved = join(resolved, '..');
      continue;
    }
    const next = join(resolved, part);
    const st = await attempt('inspect', next, () => lstatIfExists(next));
    if (!st) {
      // Missing: the rest is created below `resolved` (checked). A symlink leading nowhere is refused.
      if (link || pending.some((p) => p.link)) throw unsafe(dir, `${where(next)} is a dangling symlink`);
      const names = [part, ...pending.map((p) => p.part)].filter((p) => p !== '.');
      return { real: undefined, uid: undefined, missing: { under: resolved, names } };
    }
    if (st.isSymbolicLink()) {
      const display = followed ? where(next) : next;
      if (!trusted.has(st.uid))
        throw unsafe(dir, `${display} is a symlink owned by uid ${st.uid} (trusted: ${owners()})`);
      if (++links > MAX_LINKS) throw unsafe(dir, `too many symlinks on the way (${display})`);
      const target = await attempt('read link', next, () => readlink(next));
      if (isAbsolute(target)) resolved = sep;
      pending.unshift(
        ...target
          .split(sep)
          .filter(Boolean)
          .map((p) => ({ part: p, link: true })),
      );
      followed = true;
      continue;
    }
    if (!st.isDirectory()) throw unsafe(dir, `${where(next)} is not a directory`);
    if (pending.length === 0) {
      // The set directory itself.
      if (st.mode & WORLD_WRITE) throw unsafe(dir, `${where(next)} is world-writable`);
      if (!trusted.has(st.uid) && st.uid !== setOwner)
        throw unsafe(dir, `${where(next)} is owned by uid ${st.uid} (trusted: ${owners()})`);
      return { real: next, uid: st.uid };
    }
    await checkAncestor(next);
    resolved = next;
  }
  /* c8 ignore next */
  throw unsafe(dir, 'the path resolves to /');
}

/** join() that refuses names able to leave the directory (config should already have said no). */
export function childPath(dir: string, name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes(sep) || name.includes('\0')) {
    throw unsafe(dir, `"${name}" is not a plain file name`);
  }
  return join(dir, name);
}
