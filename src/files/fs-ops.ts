/**
 * The few filesystem primitives the writer is built from, each translating errno into a
 * WriteError that names the file and the errno (never the content).
 */
import { constants } from 'node:fs';
import { join } from 'node:path';
import { AgentError, WriteError } from '../errors.js';
import { type LocalFile, open, removeFile, rename, symlink } from './local-fs.js';
import type { Ownership } from './owners.js';

export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Wrap a foreign error: `cannot <action> <path>: ENOSPC (no space left on device)`. */
export function toWriteError(error: unknown, action: string, path: string): AgentError {
  if (AgentError.is(error)) return error;
  const errno = errnoOf(error) ?? 'unknown';
  const reason =
    error instanceof Error ? error.message.replace(/^[A-Z]+: /, '').split(',')[0] : String(error);
  return new WriteError('write-failed', `cannot ${action} ${path}: ${errno} (${reason})`, {
    cause: error,
    details: { path, errno },
  });
}

/** Run `fn`, turning any errno failure into WriteError('write-failed') about `path`. */
export async function attempt<T>(action: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toWriteError(error, action, path);
  }
}

/**
 * Create new files in `dir` with their data: each opened O_CREAT|O_EXCL|O_NOFOLLOW at 0600 (so a key is
 * never readable by anyone else, whatever the umask), owned, then set to its final `mode`. Then every file
 * and `dir` itself are fsync'd together (after `beforeSync`): concurrent fsyncs share the filesystem's
 * journal commits, where one after the other each waited for its own.
 */
export async function writeNewFiles(
  dir: string,
  files: readonly { name: string; data: Uint8Array; mode: number }[],
  ids: Ownership,
  beforeSync?: () => Promise<void>,
): Promise<void> {
  const handles: LocalFile[] = [];
  try {
    for (const f of files) {
      const path = join(dir, f.name);
      await attempt('write', path, async () => {
        const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
        const fh = await open(path, flags, 0o600);
        handles.push(fh);
        await fh.writeFile(f.data);
        if (ids.uid !== undefined || ids.gid !== undefined) await fh.chown(ids.uid ?? -1, ids.gid ?? -1);
        // After chown: chown may clear set-id bits, and the final mode is exact, not umask-reduced.
        await fh.chmod(f.mode);
      });
    }
    await beforeSync?.();
    await Promise.all([
      ...handles.map((fh, i) => attempt('write', join(dir, files[i]?.name ?? ''), () => fh.sync())),
      syncDirectory(dir),
    ]);
  } finally {
    for (const fh of handles) await fh.close().catch(() => undefined);
  }
}

/** fsync a directory so that entries created or renamed in it survive a power loss. */
export async function syncDirectory(path: string): Promise<void> {
  await attempt('fsync', path, async () => {
    const fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
}

/**
 * Point `path` at `target` atomically: a temporary symlink renamed over the old entry. When the caller saw
 * no entry at `path` (`missing`), the link is created there directly (as atomic: it exists or it does not),
 * falling back to the rename if something appeared in between.
 */
export async function replaceSymlink(
  path: string,
  tmpPath: string,
  target: string,
  opts: { missing?: boolean } = {},
): Promise<void> {
  await attempt('link', path, async () => {
    if (opts.missing) {
      try {
        await symlink(target, path);
        return;
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw error;
      }
    }
    await removeFile(tmpPath);
    await symlink(target, tmpPath);
    try {
      await rename(tmpPath, path);
    } catch (error) {
      await removeFile(tmpPath).catch(() => undefined);
      throw error;
    }
  });
}
