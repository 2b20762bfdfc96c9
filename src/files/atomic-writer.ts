/**
 * Atomic certificate-set writer (see layout.ts for the directory layout).
 *
 * A switch: resolve owner/group -> check the target is safe -> lock -> clean up after a crashed
 * run -> compare with the current generation (byte for byte; equal = nothing rewritten) -> write a
 * new hidden generation (key born 0600, files fsync'd, owned, directory fsync'd) -> create missing
 * per-file symlinks -> `..previous` -> old generation -> `..data` -> new generation (one rename,
 * the only moment readers see a change) -> fsync the directory -> drop generations older than
 * the previous one -> fchmod the previous generation's files to their own mode (an inotify event for
 * components that reload on one, see signalWatchers). A reader resolving `<dir>/cert.pem` then `<dir>/key.pem` gets both from the
 * generation `..data` named at that moment, so a crash at any point leaves the old or the new set.
 *
 * Owner/mode drift on the current generation (someone ran chmod/chown) is repaired in place,
 * without a new generation: the bytes readers see do not change, so `changed` stays false and
 * the repair is listed in `repaired`.
 */
import { constants, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { FileNames, FilesSpec } from '../config/types.js';
import { AgentError, WriteError } from '../errors.js';
import { attempt, errnoOf, replaceSymlink, syncDirectory, toWriteError, writeNewFiles } from './fs-ops.js';
import {
  DATA_LINK,
  DATA_TMP,
  isGenerationName,
  LINK_TMP_PREFIX,
  lockDirectory,
  newGenerationName,
  PREVIOUS_LINK,
  PREVIOUS_TMP,
  visibleLinkTarget,
} from './layout.js';
import {
  type LocalFile,
  lstat,
  lstatIfExists,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  stat,
} from './local-fs.js';
import {
  isGroupMember,
  type Ownership,
  type OwnershipSources,
  primaryGroupOf,
  resolveOwnership,
} from './owners.js';
import {
  type DirectoryOwnership,
  directoryMatches,
  MAX_SET_FILE_BYTES,
  type RegularFileRead,
  readRegularFile,
  removeTree,
  takeDirectory,
} from './root-owned.js';
import { childPath } from './safety.js';
import {
  directoryOwnership,
  generationIsClean,
  isDirectory,
  lstatOrUndefined,
  needsTidying,
  readPointer,
  recoverLocked,
  secureSetDirectory,
  strays,
} from './set-directory.js';

export type CertificateFileRole = keyof FileNames;
export const CERTIFICATE_FILE_ROLES: readonly CertificateFileRole[] = ['cert', 'key', 'ca', 'fullchain'];

/** PEM text (or bytes) of each file of a set. */
export type CertificateSetFiles = Record<CertificateFileRole, string | Uint8Array>;

export interface WriteCertificateSetResult {
  /** True when readers now see different bytes (a new generation, or a missing file link restored). */
  changed: boolean;
  /** Name of the generation `..data` points at after the call. */
  generation: string;
  /** Drift fixed in place (owner/mode/links) and migrations done, for the log. */
  repaired: string[];
  /** Problems after the switch that did not undo it (a failed directory fsync or clean-up). */
  warnings: string[];
  /** True when another writer changed the set meanwhile and `recheck` found nothing left to do. */
  superseded?: boolean;
}

export interface CertificateSetProblem {
  role: CertificateFileRole;
  path: string;
  /** missing: nothing there; unreadable: open/read failed (errno); foreign: a symlink we did not make. */
  reason: 'missing' | 'unreadable' | 'foreign';
  errno?: string;
}

export interface CertificateSetReading {
  /** True when all four files were read. */
  complete: boolean;
  /** 'generations' = ..data layout; 'plain' = regular files from an older tool; 'empty' = nothing. */
  layout: 'generations' | 'plain' | 'empty';
  generation: string | undefined;
  files: Partial<Record<CertificateFileRole, string>>;
  problems: CertificateSetProblem[];
}

export interface RollbackResult {
  rolledBack: boolean;
  /** Generation now current (after a rollback) or still current. */
  generation: string | undefined;
  /** Generation kept as `..previous` (the one rolled away from). */
  previous: string | undefined;
}

export interface WriterOptions {
  ownership?: OwnershipSources;
  now?: () => Date;
  /**
   * Called with the new generation's directory once its files are complete and synced, before
   * anything points at it (e.g. check the key matches the cert as written). Throwing removes the
   * generation and leaves the current set in place; the error is passed on unchanged.
   */
  verify?: (generationDir: string) => Promise<void>;
  /**
   * How long to wait for another live writer holding the set's lock: until this time (epoch ms; the run's
   * `--timeout` deadline). Default: one minute from the call.
   */
  deadline?: number;
  /**
   * What the caller's decision to write was based on. When the set on disk is no longer that generation
   * once the lock is held (another writer switched it meanwhile), `stillNeeded` is asked with the set as it
   * is now; false keeps it (the result says `superseded`).
   */
  recheck?: { generation: string | undefined; stillNeeded: (now: CertificateSetReading) => boolean };
}

/** Default wait for a live writer holding the lock, when the caller gives no deadline. */
const DEFAULT_LOCK_WAIT_MS = 60_000;

interface Entry {
  role: CertificateFileRole;
  name: string;
  mode: number;
}

function entriesOf(spec: FilesSpec): Entry[] {
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

function toBytes(value: string | Uint8Array): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

type FileState = RegularFileRead;

/**
 * Read one file without following a symlink or blocking on a FIFO, bounded in size, refused when it has
 * other hard links: with the stats of the very file read (root-owned.ts).
 */
const readNoFollow = (path: string): Promise<FileState> => readRegularFile(path);

async function readGeneration(
  dir: string,
  generation: string,
  entries: Entry[],
): Promise<Map<string, FileState>> {
  const states = new Map<string, FileState>();
  for (const e of entries) states.set(e.name, await readNoFollow(join(dir, generation, e.name)));
  return states;
}

function sameContent(states: Map<string, FileState>, entries: Entry[], want: Map<string, Buffer>): boolean {
  return entries.every((e) => {
    const data = states.get(e.name)?.data;
    const wanted = want.get(e.name);
    return data !== undefined && wanted !== undefined && data.equals(wanted);
  });
}

function ownershipDiffers(st: Stats, ids: Ownership): boolean {
  return (ids.uid !== undefined && st.uid !== ids.uid) || (ids.gid !== undefined && st.gid !== ids.gid);
}

interface Drift {
  what: string;
  fix: () => Promise<void>;
  /** True when the fix changes what readers see (a file link was missing or wrong). */
  visible: boolean;
}

/** chown+chmod of a file through a handle (O_NOFOLLOW: in a root-owned generation, never a symlink). */
async function fixFileByHandle(path: string, mode: number, ids: Ownership): Promise<void> {
  await attempt('repair', path, async () => {
    const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    try {
      const st = await fh.stat();
      // Only the file the set holds: a regular file with no other name (readRegularFile checked it too).
      if (!st.isFile() || st.nlink !== 1) throw new WriteError('write-failed', `${path} is not a plain file`);
      if (ids.uid !== undefined || ids.gid !== undefined) await fh.chown(ids.uid ?? -1, ids.gid ?? -1);
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
  });
}

function modeDrift(path: string, st: Stats, mode: number, ids: Ownership): Drift | undefined {
  const parts: string[] = [];
  if ((st.mode & 0o7777) !== mode)
    parts.push(`mode ${(st.mode & 0o7777).toString(8)} -> ${mode.toString(8)}`);
  if (ownershipDiffers(st, ids))
    parts.push(`owner ${st.uid}:${st.gid} -> ${ids.uid ?? st.uid}:${ids.gid ?? st.gid}`);
  if (parts.length === 0) return undefined;
  return {
    what: `${path}: ${parts.join(', ')}`,
    fix: () => fixFileByHandle(path, mode, ids),
    visible: false,
  };
}

function directoryDrift(path: string, real: string, st: Stats, want: DirectoryOwnership): Drift | undefined {
  if (directoryMatches(st, want)) return undefined;
  return {
    what: `${path}: owner ${st.uid}:${st.gid} mode ${(st.mode & 0o7777).toString(8)} -> ${want.uid}:${want.gid ?? st.gid} ${want.mode.toString(8)}`,
    fix: async () => {
      await takeDirectory(real, want);
    },
    visible: false,
  };
}

async function linkDrift(dir: string, entries: Entry[]): Promise<Drift[]> {
  const drift: Drift[] = [];
  for (const e of entries) {
    const path = join(dir, e.name);
    const target = visibleLinkTarget(e.name);
    const st = await lstatOrUndefined(path);
    if (st?.isSymbolicLink() && (await attempt('read link', path, () => readlink(path))) === target) continue;
    if (st?.isDirectory()) {
      throw new WriteError('unsafe-target', `${path} is a directory, expected a file or symlink`, {
        details: { path },
      });
    }
    const was = !st ? 'missing' : st.isSymbolicLink() ? 'a foreign symlink' : 'a plain file';
    drift.push({
      what: `${path}: ${was} -> symlink ${target}`,
      fix: () => replaceSymlink(path, join(dir, `${LINK_TMP_PREFIX}${e.name}`), target, { missing: !st }),
      visible: true,
    });
  }
  return drift;
}

/** What the writer needs about a set before it touches it. */
interface Context {
  spec: FilesSpec;
  entries: Entry[];
  ids: Ownership;
  /** Owner, group and mode of the set directory and its generations (root's). */
  dirs: DirectoryOwnership;
  names: ReadonlySet<string>;
}

/** Everything that differs from the wanted owner/mode/links for the current generation. */
async function collectDrift(
  ctx: Context,
  generation: string,
  states: Map<string, FileState>,
): Promise<Drift[]> {
  const { spec, entries, ids } = ctx;
  const drift: Drift[] = [];
  const dirStat = await attempt('inspect', spec.dir, () => stat(spec.dir));
  // files.dir may be a root-owned symlink (vetted): its directory is taken over by its real path.
  const real = await attempt('resolve', spec.dir, () => realpath(spec.dir));
  const dirFix = directoryDrift(spec.dir, real, dirStat, ctx.dirs);
  if (dirFix) drift.push(dirFix);
  const genPath = join(spec.dir, generation);
  const genStat = await attempt('inspect', genPath, () => lstat(genPath));
  const genFix = directoryDrift(genPath, join(real, generation), genStat, ctx.dirs);
  if (genFix) drift.push(genFix);
  for (const e of entries) {
    const st = states.get(e.name)?.stats;
    const fix = st && modeDrift(join(genPath, e.name), st, e.mode, ids);
    if (fix) drift.push(fix);
  }
  drift.push(...(await linkDrift(spec.dir, entries)));
  return drift;
}

/** Write a complete generation; on any failure it is removed again and the error names the file. */
async function createGeneration(
  ctx: Context,
  contents: { entry: Entry; data: Buffer }[],
  now: () => Date,
): Promise<string> {
  const name = newGenerationName(now());
  const path = join(ctx.spec.dir, name);
  // Root's and 0700 while filling it (nobody else can even look); its final group/mode once the files are complete.
  await attempt('create', path, () => mkdir(path, { mode: 0o700 }));
  try {
    // The files complete, then the directory's final mode and owner, then files and directory flushed together.
    await writeNewFiles(
      path,
      contents.map(({ entry, data }) => ({ name: entry.name, data, mode: entry.mode })),
      ctx.ids,
      async () => {
        await takeDirectory(path, ctx.dirs);
      },
    );
  } catch (error) {
    await removeTree(path).catch(() => undefined);
    throw toWriteError(error, 'write', path);
  }
  return name;
}

/**
 * An older tool left regular files: copy them into a generation, point `..data` at it, then
 * rename a symlink over each file. Readers see the same bytes throughout, and the old set
 * becomes the `previous` generation of the first real switch.
 */
async function migratePlainFiles(
  ctx: Context,
  now: () => Date,
): Promise<{ generation: string; migrated: string[] } | undefined> {
  const { spec, entries } = ctx;
  const found: { entry: Entry; data: Buffer }[] = [];
  for (const entry of entries) {
    const path = join(spec.dir, entry.name);
    const st = await lstatOrUndefined(path);
    if (!st?.isFile()) continue;
    const state = await readNoFollow(path);
    if (!state.data) {
      throw new WriteError('write-failed', `cannot read ${path} to migrate it: ${state.errno}`, {
        details: { path, errno: state.errno },
      });
    }
    found.push({ entry, data: state.data });
  }
  if (found.length === 0) return undefined;
  const generation = await createGeneration(ctx, found, now);
  try {
    await replaceSymlink(join(spec.dir, DATA_LINK), join(spec.dir, DATA_TMP), generation);
  } catch (error) {
    await removeTree(join(spec.dir, generation)).catch(() => undefined);
    throw error;
  }
  for (const { entry } of found) {
    await replaceSymlink(
      join(spec.dir, entry.name),
      join(spec.dir, `${LINK_TMP_PREFIX}${entry.name}`),
      visibleLinkTarget(entry.name),
    );
  }
  await syncDirectory(spec.dir);
  return { generation, migrated: found.map((f) => join(spec.dir, f.entry.name)) };
}

async function contextOf(spec: FilesSpec, options: WriterOptions, strictOwner: boolean): Promise<Context> {
  const entries = entriesOf(spec);
  // Names first: an unknown owner must fail before anything is written (a rollback or clean-up goes on).
  const ids = await resolveOwnership(spec.owner, spec.group, options.ownership).catch((error: unknown) => {
    if (strictOwner) throw error;
    return {} as Ownership;
  });
  const owned = ids.uid !== undefined && ids.uid !== 0;
  const primaryGid = owned ? await primaryGroupOf(spec.owner, options.ownership) : undefined;
  const member = owned && ids.gid !== undefined && ids.gid !== primaryGid;
  return {
    spec,
    entries,
    ids,
    dirs: directoryOwnership(spec, ids, {
      primaryGid,
      member: member && (await isGroupMember(spec.owner, spec.group, options.ownership)),
    }),
    names: new Set(entries.map((e) => e.name)),
  };
}

/** Read-only check: is the wanted set already current, clean and correctly owned? */
async function alreadyCurrent(ctx: Context, want: Map<string, Buffer>): Promise<string | undefined> {
  const { spec, entries } = ctx;
  const current = await readPointer(spec.dir, DATA_LINK);
  if (!current) return undefined;
  if (await needsTidying(spec.dir, ctx.dirs)) return undefined;
  const states = await readGeneration(spec.dir, current, entries);
  if (!sameContent(states, entries, want)) return undefined;
  const drift = await collectDrift(ctx, current, states);
  return drift.length === 0 ? current : undefined;
}

/** Take the set directory's lock, waiting for a live writer until the deadline. */
function lockSet(spec: FilesSpec, options: WriterOptions): Promise<() => Promise<void>> {
  return lockDirectory(spec.dir, { until: options.deadline ?? Date.now() + DEFAULT_LOCK_WAIT_MS });
}

/**
 * Make `files` the current set in `spec.dir`. Nothing is written when the bytes, owners, modes and
 * links are already right. Throws WriteError('unsafe-target' | 'write-failed') and ConfigError for
 * an unknown owner/group; on failure the current set is left as it was.
 */
export async function writeCertificateSet(
  spec: FilesSpec,
  files: CertificateSetFiles,
  options: WriterOptions = {},
): Promise<WriteCertificateSetResult> {
  const now = options.now ?? (() => new Date());
  const ctx = await contextOf(spec, options, true);
  const { entries } = ctx;
  const want = new Map(entries.map((e) => [e.name, toBytes(files[e.role])]));

  // Safe path, and the set directory root's (created, or taken over from an earlier layout).
  const secured = await secureSetDirectory(spec, ctx.ids, ctx.dirs, true);
  const repaired = [...secured.changes];
  if (repaired.length === 0) {
    const unchanged = await alreadyCurrent(ctx, want);
    if (unchanged) return { changed: false, generation: unchanged, repaired: [], warnings: [] };
  }

  const release = await lockSet(spec, options);
  try {
    repaired.push(...(await recoverLocked(spec.dir, ctx.dirs, ctx.names)).done);

    const dataLink = await readPointer(spec.dir, DATA_LINK);
    if (options.recheck && dataLink !== options.recheck.generation) {
      // Another writer switched the set since the caller looked: is there still something to do?
      const reading = await readCertificateSet(spec);
      if (reading.complete && !options.recheck.stillNeeded(reading)) {
        return { changed: false, generation: dataLink as string, repaired, warnings: [], superseded: true };
      }
    }
    let current = dataLink;
    if (current && !(await isDirectory(join(spec.dir, current)))) current = undefined;
    if (!current) {
      const migration = await migratePlainFiles(ctx, now);
      if (migration) {
        current = migration.generation;
        repaired.push(`migrated plain files to generation ${current}: ${migration.migrated.join(' ')}`);
      }
    }

    if (current) {
      const states = await readGeneration(spec.dir, current, entries);
      if (sameContent(states, entries, want)) {
        const drift = await collectDrift(ctx, current, states);
        for (const d of drift) await d.fix();
        if (drift.length > 0) await syncDirectory(spec.dir);
        repaired.push(...drift.map((d) => d.what));
        return { changed: drift.some((d) => d.visible), generation: current, repaired, warnings: [] };
      }
    }

    const generation = await createGeneration(
      ctx,
      entries.map((entry) => ({ entry, data: want.get(entry.name) as Buffer })),
      now,
    );
    const oldPrevious = await readPointer(spec.dir, PREVIOUS_LINK);
    // The generation rolled back to on a failed health check: only one holding nothing but the set's own
    // files (a directory of an earlier layout may hold what its owner planted); else it is removed.
    const rollbackTo =
      current && (await generationIsClean(join(spec.dir, current), ctx.names)) ? current : undefined;
    try {
      await options.verify?.(join(spec.dir, generation));
      // Links first (they resolve through ..data, so they show the old set until the swap).
      for (const d of await linkDrift(spec.dir, entries)) await d.fix();
      // ..previous before ..data: a crash in between leaves old = current = previous, never a
      // previous that was already collected.
      if (rollbackTo) {
        await replaceSymlink(join(spec.dir, PREVIOUS_LINK), join(spec.dir, PREVIOUS_TMP), rollbackTo);
      }
      await replaceSymlink(join(spec.dir, DATA_LINK), join(spec.dir, DATA_TMP), generation, {
        missing: current === undefined && dataLink === undefined,
      });
    } catch (error) {
      if (oldPrevious && rollbackTo) {
        await replaceSymlink(join(spec.dir, PREVIOUS_LINK), join(spec.dir, PREVIOUS_TMP), oldPrevious).catch(
          () => undefined,
        );
      }
      await removeTree(join(spec.dir, generation)).catch(() => undefined);
      throw error;
    }

    // The switch happened: what follows cannot undo it, so failures are warnings.
    const warnings: string[] = [];
    await syncDirectory(spec.dir).catch((error: unknown) => warnings.push(String((error as Error).message)));
    // Without a current set, ..previous was left alone and still names its generation.
    const kept = rollbackTo ?? oldPrevious;
    const keep = new Set([generation, kept].filter((g): g is string => g !== undefined));
    for (const name of await strays(spec.dir, keep).catch(() => [] as string[])) {
      if (!isGenerationName(name)) continue;
      await removeTree(join(spec.dir, name)).catch((error: unknown) =>
        warnings.push(`cannot remove old generation ${join(spec.dir, name)}: ${errnoOf(error) ?? error}`),
      );
    }
    if (current && current !== generation && keep.has(current))
      await signalWatchers(spec.dir, current, warnings);
    return { changed: true, generation, repaired, warnings };
  } finally {
    await release();
  }
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
async function signalWatchers(dir: string, generation: string, warnings: string[]): Promise<void> {
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

/**
 * What readers of `spec.dir` see now: every file's content, or which one is missing/unreadable.
 * With the generation layout all files are read from the one generation `..data` names.
 */
export async function readCertificateSet(spec: FilesSpec): Promise<CertificateSetReading> {
  const entries = entriesOf(spec);
  let generation = (await lstatIfExists(spec.dir)) ? await readPointer(spec.dir, DATA_LINK) : undefined;
  // Only a real directory is read through (a generation swapped for a symlink before the directory was
  // root's would lead anywhere): the files then count as foreign.
  if (generation && !(await isDirectory(join(spec.dir, generation)))) generation = undefined;
  const files: Partial<Record<CertificateFileRole, string>> = {};
  const problems: CertificateSetProblem[] = [];
  let plain = 0;
  for (const e of entries) {
    const path = join(spec.dir, e.name);
    const st = await lstatIfExists(path).then(
      (found) => found ?? 'ENOENT',
      (error: unknown) => errnoOf(error) ?? 'unknown',
    );
    if (typeof st === 'string') {
      problems.push({ role: e.role, path, reason: st === 'ENOENT' ? 'missing' : 'unreadable', errno: st });
      continue;
    }
    let source: string;
    if (st.isSymbolicLink()) {
      const target = await readlink(path).catch(() => '');
      if (target !== visibleLinkTarget(e.name) || !generation) {
        problems.push({ role: e.role, path, reason: 'foreign' });
        continue;
      }
      source = join(spec.dir, generation, e.name);
    } else {
      plain++;
      source = path;
    }
    // A second hard link (the owner may link its own key elsewhere) does not make the content wrong for
    // readers; the writer itself never reuses such a file (readNoFollow), it writes a fresh generation.
    const state = await readRegularFile(source, MAX_SET_FILE_BYTES, { allowLinks: true });
    if (state.data) files[e.role] = state.data.toString('utf8');
    else {
      problems.push({
        role: e.role,
        path,
        reason: state.errno === 'ENOENT' ? 'missing' : 'unreadable',
        errno: state.errno,
      });
    }
  }
  const layout = generation ? 'generations' : plain > 0 ? 'plain' : 'empty';
  return { complete: problems.length === 0, layout, generation, files, problems };
}

/**
 * Point `..data` back at the previous generation (one atomic rename). The generation rolled away
 * from becomes `..previous`, so exactly one other generation is still kept. False when there is
 * no previous generation.
 */
export async function rollbackCertificateSet(
  spec: FilesSpec,
  options: WriterOptions = {},
): Promise<RollbackResult> {
  const ctx = await contextOf(spec, options, false);
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
 * Remove what a killed writer left behind (`..data_tmp`, half-written generations, stale locks) and make
 * the set directory and its generations root's (the layout of earlier versions). `writeCertificateSet`
 * does this itself before every switch; exported for start-up and tests. Returns the names it removed.
 */
export async function recoverCertificateDir(spec: FilesSpec, options: WriterOptions = {}): Promise<string[]> {
  const ctx = await contextOf(spec, options, false);
  const secured = await secureSetDirectory(spec, ctx.ids, ctx.dirs, false);
  if (!secured.exists) return [];
  const release = await lockSet(spec, options);
  try {
    return (await recoverLocked(spec.dir, ctx.dirs, ctx.names)).removed;
  } finally {
    await release();
  }
}

/**
 * The same for a set that is not being written in this pass (up to date): only when there is something to
 * do, and never waiting for a writer that holds the lock (that writer cleans up itself). For every pass.
 */
export async function tidyCertificateDir(spec: FilesSpec, options: WriterOptions = {}): Promise<string[]> {
  const ctx = await contextOf(spec, options, false);
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
