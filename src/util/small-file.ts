/**
 * Reads a small input file (the config, a token file) without trusting what sits at its path: opened
 * non-blocking so that a FIFO cannot block the agent, refused unless fstat says it is a regular file
 * (`--config /dev/zero` would otherwise never end), and never read beyond `maxBytes`.
 * Errors carry a `code` the callers word: Node's errno (ENOENT, EACCES, ...), or ENOTREG / EFBIG.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

export interface SmallFile {
  data: Buffer;
  stat: Stats;
}

export class SmallFileError extends Error {
  constructor(
    message: string,
    readonly code: 'ENOTREG' | 'EFBIG',
  ) {
    super(message);
    this.name = 'SmallFileError';
  }
}

/** "a FIFO", "a character device", ... for messages. */
function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** "1 MiB", "64 KiB". */
export function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / 1024 / 1024} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

export function readSmallFile(path: string, maxBytes: number): SmallFile {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SmallFileError(`is ${fileKind(stat)}, not a regular file`, 'ENOTREG');
    const tooLarge = () =>
      new SmallFileError(`is larger than ${sizeText(maxBytes)}, more than such a file ever holds`, 'EFBIG');
    if (stat.size > maxBytes) throw tooLarge();
    // One byte more than allowed tells a file that grew since fstat (or a /proc file, size 0) from one that fits.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) throw tooLarge();
    }
    return { data: buffer.subarray(0, length), stat };
  } finally {
    closeSync(fd);
  }
}
