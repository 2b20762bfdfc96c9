/**
 * Writes the metrics textfile so node_exporter never reads half of it: the text goes to a temporary
 * file in the same directory (same filesystem, so rename is atomic), is fsync'd, then renamed over
 * the target. The temporary name starts with a dot and does not end in `.prom`, so the textfile
 * collector (which reads `*.prom` only) never picks it up. The file is 0644 whatever the umask:
 * node_exporter usually runs as its own user.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { syncDirectory, toWriteError } from '../files/fs-ops.js';

export const METRICS_FILE_MODE = 0o644;

/** Atomically replace `path` with `text`. Throws WriteError('write-failed') naming the file. */
export async function writeMetricsFile(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let created = false;
  try {
    // The collector's directory usually exists; on a fresh node it may not yet.
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const fh = await open(tmp, 'wx', METRICS_FILE_MODE);
    created = true;
    try {
      await fh.chmod(METRICS_FILE_MODE);
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    created = false;
  } catch (error) {
    if (created) await unlink(tmp).catch(() => undefined);
    throw toWriteError(error, 'write metrics file', path);
  }
  // Durability of the rename; the file is already complete for readers either way.
  await syncDirectory(dir);
}
