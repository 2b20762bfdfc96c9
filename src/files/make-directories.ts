/**
 * Creating the missing directories of a path without following anything someone else planted meanwhile
 * (review finding F1). `mkdir -p` resolves every existing component at the moment it runs: a symlink put at a
 * missing name under a sticky world-writable directory (`/tmp`) between the safety check and the mkdir made root
 * create directories wherever the link pointed. Here each missing component is made with a plain mkdir (which
 * never follows a link at its last component) and then must be a real directory owned by the agent before the next
 * one is made inside it; the part that exists is checked again (safety.ts), since a name missing at the caller's
 * check may hold someone's link by now.
 */
import { basename, dirname, join, parse, resolve } from 'node:path';
import { WriteError } from '../errors.js';
import { errnoOf, toWriteError } from './fs-ops.js';
import { lstatIfExists, mkdir, realpath } from './local-fs.js';
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
  // The deepest part that exists, resolved (its symlinks are root's: the caller's safety check said so).
  const missing: string[] = [];
  let existing = target;
  while ((await lstatIfExists(existing)) === undefined) {
    if (existing === parse(existing).root) break;
    missing.unshift(basename(existing));
    existing = dirname(existing);
  }
  // What exists now may be what someone planted since the caller's check (a link at the first missing name):
  // the existing part must pass the same rules again before anything is made below it.
  // Checked as the parent of the first missing name (a sticky /tmp is fine on the way, not as a set directory).
  if (missing.length > 0) await assertSafeTarget(join(existing, missing[0]!), trusted);
  let at = await realpath(existing).catch((error: unknown) => {
    throw toWriteError(error, 'resolve', existing);
  });
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
