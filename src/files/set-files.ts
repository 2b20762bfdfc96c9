/**
 * What every step of the certificate-set writer shares: the four files of a set and their names and modes,
 * the owners resolved once, and the set directory's lock.
 */
import { constants } from 'node:fs';
import { join } from 'node:path';
import type { FileNames, FilesSpec } from '../config/types.js';
import { WriteError } from '../errors.js';
import { errnoOf } from './fs-ops.js';
import { lockDirectory } from './layout.js';
import { type LocalFile, open, readdir } from './local-fs.js';
import { isGroupMember, type Ownership, primaryGroupOf, resolveOwnership } from './owners.js';
import type { DirectoryOwnership } from './root-owned.js';
import { childPath } from './safety.js';
import { directoryOwnership } from './set-directory.js';

export type CertificateFileRole = keyof FileNames;
const CERTIFICATE_FILE_ROLES: readonly CertificateFileRole[] = ['cert', 'key', 'ca', 'fullchain'];

/** PEM text (or bytes) of each file of a set. */
export type CertificateSetFiles = Record<CertificateFileRole, string | Uint8Array>;

export interface Entry {
  role: CertificateFileRole;
  name: string;
  mode: number;
}

/** The set's four files in role order; refuses a name outside the directory, reserved or used twice. */
export function entriesOf(spec: FilesSpec): Entry[] {
  const seen = new Set<string>();
  return CERTIFICATE_FILE_ROLES.map((role) => {
    const name = spec.names[role];
    childPath(spec.dir, name);
    if (name.startsWith('..')) {
      throw new WriteError(
        'unsafe-target',
        `file name "${name}" is reserved (names starting with ".." are the writer's)`,
      );
    }
    if (seen.has(name))
      throw new WriteError('unsafe-target', `file name "${name}" is used twice in ${spec.dir}`);
    seen.add(name);
    return { role, name, mode: role === 'key' ? 0o600 : spec.certMode & 0o7777 };
  });
}

export function toBytes(value: string | Uint8Array): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

/** What the writer needs about a set before it touches it. */
export interface Context {
  spec: FilesSpec;
  entries: Entry[];
  ids: Ownership;
  /** Owner, group and mode of the set directory and its generations (root's). */
  dirs: DirectoryOwnership;
  names: ReadonlySet<string>;
}

/**
 * Names first: an unknown owner must fail before anything is written. With `strictOwner` false (a rollback
 * or clean-up) an unknown owner leaves the owner as it is and the work goes on.
 */
export async function contextOf(spec: FilesSpec, strictOwner: boolean): Promise<Context> {
  const entries = entriesOf(spec);
  const ids = await resolveOwnership(spec.owner, spec.group).catch((error: unknown) => {
    if (strictOwner) throw error;
    return {} as Ownership;
  });
  const owned = ids.uid !== undefined && ids.uid !== 0;
  const primaryGid = owned ? await primaryGroupOf(spec.owner) : undefined;
  const member = owned && ids.gid !== undefined && ids.gid !== primaryGid;
  return {
    spec,
    entries,
    ids,
    dirs: directoryOwnership(spec, ids, {
      primaryGid,
      member: member && (await isGroupMember(spec.owner, spec.group)),
    }),
    names: new Set(entries.map((e) => e.name)),
  };
}

export interface LockWait {
  /**
   * How long to wait for another live writer holding the set's lock: until this time (epoch ms; the run's
   * `--timeout` deadline). Default: one minute from the call.
   */
  deadline?: number;
}

/** Default wait for a live writer holding the lock, when the caller gives no deadline. */
const DEFAULT_LOCK_WAIT_MS = 60_000;

/** Take the set directory's lock, waiting for a live writer until the deadline. */
export function lockSet(spec: FilesSpec, options: LockWait): Promise<() => Promise<void>> {
  return lockDirectory(spec.dir, { until: options.deadline ?? Date.now() + DEFAULT_LOCK_WAIT_MS });
}

/**
 * A component that reloads its certificate on a file event (kube-apiserver, the kubelet's serving
 * certificate: fsnotify on `<dir>/cert.pem`, i.e. on the inode that path resolved to when it loaded it) sees
 * nothing of the `..data` rename while the generation rolled away from is kept as `..previous`: its files
 * are neither changed nor removed, so the apiserver kept serving the old certificate (test/kubernetes). An
 * fchmod to the same mode of each of its files fires IN_ATTRIB (fsnotify's Chmod), which those watchers take
 * as "reload now"; an older generation being removed fires its own event. Nothing readers see changes (only
 * the files' ctime). Best effort: a failure is a warning.
 */
export async function signalWatchers(dir: string, generation: string, warnings: string[]): Promise<void> {
  const path = join(dir, generation);
  const names = await readdir(path).catch(() => [] as string[]);
  for (const name of names) {
    let file: LocalFile | undefined;
    try {
      file = await open(
        join(path, name),
        constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
      );
      const st = await file.stat();
      if (st.isFile()) await file.chmod(st.mode & 0o7777);
    } catch (error) {
      warnings.push(`cannot signal watchers of ${join(path, name)}: ${errnoOf(error) ?? error}`);
    } finally {
      await file?.close().catch(() => undefined);
    }
  }
}
