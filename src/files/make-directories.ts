/**
 * Creating the missing directories of a path without following anything someone else planted meanwhile
 * (review finding F1). `mkdir -p` resolves every existing component at the moment it runs: a symlink put at a
 * missing name under a sticky world-writable directory (`/tmp`) between the safety check and the mkdir made root
 * create directories wherever the link pointed. Here each missing component is made with a plain mkdir (which
 * never follows a link at its last component) and then must be a real directory owned by the agent before the next
 * one is made inside it; the part that exists is walked again (safety.ts) and creation starts from where that
 * walk ended, since a name missing at the caller's check may hold someone's link by now.
 */
import { join, resolve } from 'node:path';
import { WriteError } from '../errors.js';
import { errnoOf, toWriteError } from './fs-ops.js';
import { lstatIfExists, mkdir } from './local-fs.js';
import { agentUid } from './root-owned.js';
import { assertSafeTarget } from './safety.js';

/** Makes the missing directories of `path` (mode `mode`, the last one `lastMode`); returns the ones it made. */
export async function makeDirectories(
  path: string,
  trusted: ReadonlySet<number>,
  mode: number,
  lastMode = mode,
): Promise<string[]> {
  const target = resolve(path);
  if ((await lstatIfExists(target)) !== undefined) return [];
  // The existing part is walked down from / one component at a time without following anything but a
  // trusted link (safety.ts), and creation starts from the directory that walk reached: a link someone plants
  // at a name after it was seen missing is met by mkdir (EEXIST) and the check below, never resolved.
  // (Resolving the existing part again, with realpath, followed a link raced in between the two: review F1.)
  const checked = await assertSafeTarget(target, trusted);
  if (checked.missing === undefined) return [];
  let at = checked.missing.under;
  const missing = checked.missing.names;
  const made: string[] = [];
  for (const [i, name] of missing.entries()) {
    const next = join(at, name);
    try {
      await mkdir(next, { mode: i === missing.length - 1 ? lastMode : mode });
      made.push(next);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw toWriteError(error, 'create', next);
    }
    const st = await lstatIfExists(next);
    if (!st?.isDirectory() || st.isSymbolicLink() || st.uid !== agentUid()) {
      throw new WriteError(
        'unsafe-target',
        `${next} appeared while it was being created and is not a directory of this agent's ` +
          `(${st ? (st.isSymbolicLink() ? 'a symlink' : `owner uid ${st.uid}`) : 'gone'}): refusing to go on`,
        { details: { path: next } },
      );
    }
    at = next;
  }
  return made;
}
