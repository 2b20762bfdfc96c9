/**
 * Drift on the current generation (someone ran chmod/chown, or a file link is missing or foreign): found and
 * repaired in place, without a new generation. The bytes readers see do not change, except when a file link
 * was missing or wrong (`visible`).
 */
import { constants, type Stats } from 'node:fs';
import { join } from 'node:path';
import { WriteError } from '../errors.js';
import { attempt, replaceSymlink } from './fs-ops.js';
import { LINK_TMP_PREFIX, visibleLinkTarget } from './layout.js';
import { lstat, open, readlink, realpath, stat } from './local-fs.js';
import type { Ownership } from './owners.js';
import {
  type DirectoryOwnership,
  directoryMatches,
  type RegularFileRead,
  takeDirectory,
} from './root-owned.js';
import { lstatOrUndefined } from './set-directory.js';
import type { Context, Entry } from './set-files.js';

export interface Drift {
  what: string;
  fix: () => Promise<void>;
  /** True when the fix changes what readers see (a file link was missing or wrong). */
  visible: boolean;
}

function ownershipDiffers(st: Stats, ids: Ownership): boolean {
  return (ids.uid !== undefined && st.uid !== ids.uid) || (ids.gid !== undefined && st.gid !== ids.gid);
}

/** chown+chmod of a file through a handle (O_NOFOLLOW: in a root-owned generation, never a symlink). */
async function fixFileByHandle(path: string, mode: number, ids: Ownership): Promise<void> {
  await attempt('repair', path, async () => {
    const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    try {
      const st = await fh.stat();
      // Only the file the set holds: a regular file with no other name (readRegularFile checked it too).
      if (!st.isFile() || st.nlink !== 1) throw new WriteError('write-failed', `${path} is not a plain file`);
      if (ids.uid !== undefined || ids.gid !== undefined) await fh.chown(ids.uid ?? -1, ids.gid ?? -1);
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
  });
}

function modeDrift(path: string, st: Stats, mode: number, ids: Ownership): Drift | undefined {
  const parts: string[] = [];
  if ((st.mode & 0o7777) !== mode)
    parts.push(`mode ${(st.mode & 0o7777).toString(8)} -> ${mode.toString(8)}`);
  if (ownershipDiffers(st, ids))
    parts.push(`owner ${st.uid}:${st.gid} -> ${ids.uid ?? st.uid}:${ids.gid ?? st.gid}`);
  if (parts.length === 0) return undefined;
  return {
    what: `${path}: ${parts.join(', ')}`,
    fix: () => fixFileByHandle(path, mode, ids),
    visible: false,
  };
}

function directoryDrift(path: string, real: string, st: Stats, want: DirectoryOwnership): Drift | undefined {
  if (directoryMatches(st, want)) return undefined;
  return {
    what: `${path}: owner ${st.uid}:${st.gid} mode ${(st.mode & 0o7777).toString(8)} -> ${want.uid}:${want.gid ?? st.gid} ${want.mode.toString(8)}`,
    fix: async () => {
      await takeDirectory(real, want);
    },
    visible: false,
  };
}

/** Each visible file name that is not our symlink into `..data` (missing, a plain file, a foreign link). */
export async function linkDrift(dir: string, entries: Entry[]): Promise<Drift[]> {
  const drift: Drift[] = [];
  for (const e of entries) {
    const path = join(dir, e.name);
    const target = visibleLinkTarget(e.name);
    const st = await lstatOrUndefined(path);
    if (st?.isSymbolicLink() && (await attempt('read link', path, () => readlink(path))) === target) continue;
    if (st?.isDirectory()) {
      throw new WriteError('unsafe-target', `${path} is a directory, expected a file or symlink`, {
        details: { path },
      });
    }
    const was = !st ? 'missing' : st.isSymbolicLink() ? 'a foreign symlink' : 'a plain file';
    drift.push({
      what: `${path}: ${was} -> symlink ${target}`,
      fix: () => replaceSymlink(path, join(dir, `${LINK_TMP_PREFIX}${e.name}`), target, { missing: !st }),
      visible: true,
    });
  }
  return drift;
}

/** Everything that differs from the wanted owner/mode/links for the current generation. */
export async function collectDrift(
  ctx: Context,
  generation: string,
  states: Map<string, RegularFileRead>,
): Promise<Drift[]> {
  const { spec, entries, ids } = ctx;
  const drift: Drift[] = [];
  const dirStat = await attempt('inspect', spec.dir, () => stat(spec.dir));
  // files.dir may be a root-owned symlink (vetted): its directory is taken over by its real path.
  const real = await attempt('resolve', spec.dir, () => realpath(spec.dir));
  const dirFix = directoryDrift(spec.dir, real, dirStat, ctx.dirs);
  if (dirFix) drift.push(dirFix);
  const genPath = join(spec.dir, generation);
  const genStat = await attempt('inspect', genPath, () => lstat(genPath));
  const genFix = directoryDrift(genPath, join(real, generation), genStat, ctx.dirs);
  if (genFix) drift.push(genFix);
  for (const e of entries) {
    const st = states.get(e.name)?.stats;
    const fix = st && modeDrift(join(genPath, e.name), st, e.mode, ids);
    if (fix) drift.push(fix);
  }
  drift.push(...(await linkDrift(spec.dir, entries)));
  return drift;
}
