/**
 * Replace one small file atomically: write a temporary file in the same directory, created with its final
 * mode (a secret is never briefly readable by others), fsync it, rename it over the target, fsync the
 * directory. On any failure the temporary file is removed and the error is a WriteError naming the file;
 * the previous file is untouched until the rename.
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { syncDirectory, toWriteError } from './fs-ops.js';
import { open, rename, unlink } from './local-fs.js';

/**
 * `action` names the operation in the error ("cannot <action> <path>: <errno>"); `owner` is set on the
 * temporary file before anything is written to it. The temporary name is created exclusively (never through a
 * link planted at it).
 */
export async function writeFileAtomic(
  path: string,
  content: string | Buffer,
  mode: number,
  action = 'write',
  owner?: { uid: number; gid: number },
): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let created = false;
  try {
    const fh = await open(tmp, 'wx', mode);
    created = true;
    try {
      if (owner) await fh.chown(owner.uid, owner.gid);
      await fh.chmod(mode);
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    created = false;
  } catch (error) {
    if (created) await unlink(tmp).catch(() => undefined);
    throw toWriteError(error, action, path);
  }
  // Durability of the rename; the file is already complete for readers either way.
  await syncDirectory(dir);
}
