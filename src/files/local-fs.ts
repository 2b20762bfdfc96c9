/**
 * The filesystem calls of the writers (certificate sets, token, state, lock), shaped like `node:fs/promises`
 * but made synchronously, except fsync.
 *
 * Why: a set switch is ~75 metadata calls (lstat, readlink, open, chmod, symlink, rename, ...), each a few
 * microseconds in the kernel. Through fs/promises every one is a thread-pool job, a promise and an event-loop
 * turn: with four sets at boot that was ~17 ms of a ~150 ms bootstrap (docs/PERFORMANCE.md). fsync is the one
 * call that waits on the disk (milliseconds on a cloud volume), so it stays on the thread pool, where the
 * flushes of concurrent sets overlap. Errors are Node's own (`code`, `syscall`, `path`), as from fs/promises.
 */
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsync,
  linkSync,
  lstatSync,
  type MakeDirectoryOptions,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  rmdirSync,
  type Stats,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';

/** An open file descriptor with the FileHandle methods the writers use. */
export interface LocalFile {
  readonly fd: number;
  stat(): Promise<Stats>;
  readFile(): Promise<Buffer>;
  /** At most `max` bytes from the start (fewer at the end of the file). */
  readUpTo(max: number): Promise<Buffer>;
  writeFile(data: Uint8Array | string): Promise<void>;
  chown(uid: number, gid: number): Promise<void>;
  chmod(mode: number): Promise<void>;
  /** fsync(2), on the thread pool. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Run a synchronous call as a promise: a throw becomes a rejection, as with fs/promises. */
function later<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

const fsyncFd = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));

export function open(path: string, flags: number | string, mode?: number): Promise<LocalFile> {
  return later(() => {
    const fd = openSync(path, flags, mode);
    let closed = false;
    return {
      fd,
      stat: () => later(() => fstatSync(fd)),
      readFile: () => later(() => readFileSync(fd)),
      readUpTo: (max) =>
        later(() => {
          const buffer = Buffer.alloc(max);
          let filled = 0;
          while (filled < max) {
            const n = readSync(fd, buffer, filled, max - filled, filled);
            if (n === 0) break;
            filled += n;
          }
          return buffer.subarray(0, filled);
        }),
      writeFile: (data) => later(() => writeFileSync(fd, data)),
      chown: (uid, gid) => later(() => fchownSync(fd, uid, gid)),
      chmod: (mode) => later(() => fchmodSync(fd, mode)),
      sync: () => fsyncFd(fd),
      close: () =>
        later(() => {
          if (!closed) closeSync(fd);
          closed = true;
        }),
    };
  });
}

export const lstat = (path: string): Promise<Stats> => later(() => lstatSync(path));
/** lstat, or undefined when nothing is there (no ENOENT error is built: a first boot asks ~100 times). */
export const lstatIfExists = (path: string): Promise<Stats | undefined> =>
  later(() => lstatSync(path, { throwIfNoEntry: false }));
export const stat = (path: string): Promise<Stats> => later(() => statSync(path));
export const mkdir = (path: string, options?: MakeDirectoryOptions & { mode?: number }) =>
  later(() => mkdirSync(path, options));
export const readdir = (path: string): Promise<string[]> => later(() => readdirSync(path));
export const readlink = (path: string): Promise<string> => later(() => readlinkSync(path));
export const realpath = (path: string): Promise<string> => later(() => realpathSync(path));
export const rmdir = (path: string): Promise<void> => later(() => rmdirSync(path));
export const rename = (from: string, to: string): Promise<void> => later(() => renameSync(from, to));
export const symlink = (target: string, path: string): Promise<void> =>
  later(() => symlinkSync(target, path));
export const link = (existing: string, path: string): Promise<void> => later(() => linkSync(existing, path));
export const unlink = (path: string): Promise<void> => later(() => unlinkSync(path));
/** unlink(2) a file or symlink that may be absent: one call where `rm(path, { force: true })` makes three. */
export const removeFile = (path: string): Promise<void> =>
  later(() => {
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  });
export function readFile(path: string): Promise<Buffer>;
export function readFile(path: string, encoding: BufferEncoding): Promise<string>;
export function readFile(path: string, encoding?: BufferEncoding): Promise<Buffer | string> {
  return later(() => (encoding ? readFileSync(path, encoding) : readFileSync(path)));
}
