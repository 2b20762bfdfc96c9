/**
 * Writes the metrics textfile so node_exporter never reads half of it (files/atomic-file.ts: a temporary
 * file in the same directory, fsync'd, renamed over the target). The temporary name starts with a dot
 * and does not end in `.prom`, so the textfile collector (which reads `*.prom` only) never picks it up.
 * The file is 0644 whatever the umask: node_exporter usually runs as its own user.
 */

import { dirname } from 'node:path';
import { writeFileAtomic } from '../files/atomic-file.js';
import { toWriteError } from '../files/fs-ops.js';
import { mkdir } from '../files/local-fs.js';

export const METRICS_FILE_MODE = 0o644;

/** Atomically replace `path` with `text`. Throws WriteError('write-failed') naming the file. */
export async function writeMetricsFile(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  // The collector's directory usually exists; on a fresh node it may not yet.
  await mkdir(dir, { recursive: true, mode: 0o755 }).catch((error: unknown) => {
    throw toWriteError(error, 'write metrics file', path);
  });
  await writeFileAtomic(path, text, METRICS_FILE_MODE, 'write metrics file');
}
