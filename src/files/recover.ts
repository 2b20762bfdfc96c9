/**
 * Getting a set back to a known state: rolling back to the previous generation (after a failed health check),
 * and removing what a killed writer left behind for a set this pass does not write.
 */
import { join } from 'node:path';
import type { FilesSpec } from '../config/types.js';
import { AgentError } from '../errors.js';
import { replaceSymlink, syncDirectory } from './fs-ops.js';
import { DATA_LINK, DATA_TMP, lockDirectory, PREVIOUS_LINK, PREVIOUS_TMP } from './layout.js';
import { linkDrift } from './repair.js';
import { needsTidying, readPointer, recoverLocked, secureSetDirectory } from './set-directory.js';
import { contextOf, type LockWait, lockSet, signalWatchers } from './set-files.js';

export interface RollbackResult {
  rolledBack: boolean;
  /** Generation now current (after a rollback) or still current. */
  generation: string | undefined;
  /** Generation kept as `..previous` (the one rolled away from). */
  previous: string | undefined;
}

/**
 * Point `..data` back at the previous generation (one atomic rename). The generation rolled away
 * from becomes `..previous`, so exactly one other generation is still kept. False when there is
 * no previous generation.
 */
export async function rollbackCertificateSet(
  spec: FilesSpec,
  options: LockWait = {},
): Promise<RollbackResult> {
  const ctx = await contextOf(spec, false);
  const secured = await secureSetDirectory(spec, ctx.ids, ctx.dirs, false);
  if (!secured.exists) return { rolledBack: false, generation: undefined, previous: undefined };
  const release = await lockSet(spec, options);
  try {
    await recoverLocked(spec.dir, ctx.dirs, ctx.names);
    const current = await readPointer(spec.dir, DATA_LINK);
    const previous = await readPointer(spec.dir, PREVIOUS_LINK);
    if (!previous || !current) return { rolledBack: false, generation: current, previous };
    for (const d of await linkDrift(spec.dir, ctx.entries)) await d.fix();
    // ..data first: a crash before ..previous is updated still leaves the rollback done.
    await replaceSymlink(join(spec.dir, DATA_LINK), join(spec.dir, DATA_TMP), previous);
    await replaceSymlink(join(spec.dir, PREVIOUS_LINK), join(spec.dir, PREVIOUS_TMP), current);
    await syncDirectory(spec.dir);
    await signalWatchers(spec.dir, current, []);
    return { rolledBack: true, generation: previous, previous: current };
  } finally {
    await release();
  }
}

/**
 * For a set that is not being written in this pass (up to date): remove what a killed writer left behind
 * (`..data_tmp`, half-written generations, stale locks) and make the set directory and its generations root's
 * (the layout of earlier versions), only when there is something to do, and never waiting for a writer that
 * holds the lock (that writer cleans up itself: `writeCertificateSet` does the same before every switch).
 * Returns what it did, for the log.
 */
export async function tidyCertificateDir(spec: FilesSpec): Promise<string[]> {
  const ctx = await contextOf(spec, false);
  const secured = await secureSetDirectory(spec, ctx.ids, ctx.dirs, false);
  if (!secured.exists) return [];
  if (secured.changes.length === 0 && !(await needsTidying(spec.dir, ctx.dirs))) return [];
  let release: () => Promise<void>;
  try {
    release = await lockDirectory(spec.dir);
  } catch (error) {
    if (AgentError.is(error) && error.retryable) return secured.changes;
    throw error;
  }
  try {
    return [...secured.changes, ...(await recoverLocked(spec.dir, ctx.dirs, ctx.names)).done];
  } finally {
    await release();
  }
}
