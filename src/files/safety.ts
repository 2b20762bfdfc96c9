/**
 * Refuses directories where someone other than root, the agent or the set's owner could swap
 * files under us: a world-writable parent without the sticky bit, a symlink on the way that an
 * untrusted user owns, or a path that resolves (realpath) into directories such a user controls.
 */
import { isAbsolute, join, normalize, sep } from 'node:path';
import { WriteError } from '../errors.js';
import { attempt } from './fs-ops.js';
import { lstat, lstatIfExists, realpath, stat } from './local-fs.js';

const STICKY = 0o1000;
const WORLD_WRITE = 0o002;

function unsafe(path: string, why: string): WriteError {
  return new WriteError('unsafe-target', `refusing to write certificates under ${path}: ${why}`, {
    details: { path },
  });
}

/** "/", "/a", "/a/b" for "/a/b". */
function prefixes(path: string): string[] {
  const out: string[] = [sep];
  let current = '';
  for (const part of path.split(sep).filter(Boolean)) {
    current = `${current}${sep}${part}`;
    out.push(current);
  }
  return out;
}

/**
 * Check `dir` (existing or not) before anything is created in it.
 * `trusted` = uids allowed to own symlinks and directories on the way (root, the agent, files.owner).
 */
export async function assertSafeTarget(dir: string, trusted: ReadonlySet<number>): Promise<void> {
  if (!isAbsolute(dir) || normalize(dir) !== dir || (dir.endsWith(sep) && dir !== sep) || dir === sep) {
    throw unsafe(dir, 'files.dir must be an absolute, normalised path below /');
  }
  const owners = () => [...trusted].sort((a, b) => a - b).join(', ');

  // 1. Along the literal path: a symlink is only followed when a trusted user owns it.
  let deepestExisting: string = sep;
  for (const p of prefixes(dir)) {
    const st = await attempt('inspect', p, () => lstatIfExists(p));
    if (!st) break;
    if (st.isSymbolicLink()) {
      if (!trusted.has(st.uid))
        throw unsafe(dir, `${p} is a symlink owned by uid ${st.uid} (trusted: ${owners()})`);
      const target = await attempt('inspect', p, () => stat(p).catch(() => undefined));
      if (!target) throw unsafe(dir, `${p} is a dangling symlink`);
      if (!target.isDirectory()) throw unsafe(dir, `${p} does not lead to a directory`);
    } else if (!st.isDirectory()) {
      throw unsafe(dir, `${p} is not a directory`);
    }
    deepestExisting = p;
  }

  // 2. Along the resolved path (realpath): every directory that decides what `dir` is must be
  // owned by a trusted user, and must not be world-writable unless sticky (like /tmp).
  const real = await attempt('resolve', deepestExisting, () => realpath(deepestExisting));
  const existsItself = deepestExisting === dir;
  for (const p of prefixes(real)) {
    const st = await attempt('inspect', p, () => lstat(p));
    const isTarget = existsItself && p === real;
    const where = real === deepestExisting ? p : `${p} (resolved from ${dir})`;
    if (isTarget) {
      if (st.mode & WORLD_WRITE) throw unsafe(dir, `${where} is world-writable`);
      if (!trusted.has(st.uid))
        throw unsafe(dir, `${where} is owned by uid ${st.uid} (trusted: ${owners()})`);
      continue;
    }
    if (st.mode & WORLD_WRITE && !(st.mode & STICKY)) {
      throw unsafe(dir, `${where} is world-writable without the sticky bit`);
    }
    if (!trusted.has(st.uid)) {
      throw unsafe(dir, `${where} is owned by uid ${st.uid} (trusted: ${owners()})`);
    }
  }
}

/** join() that refuses names able to leave the directory (config should already have said no). */
export function childPath(dir: string, name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes(sep) || name.includes('\0')) {
    throw unsafe(dir, `"${name}" is not a plain file name`);
  }
  return join(dir, name);
}
