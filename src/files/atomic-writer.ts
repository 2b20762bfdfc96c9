/**
 * Atomic certificate-set writer (see layout.ts for the directory layout).
 *
 * A switch: resolve owner/group -> check the target is safe -> lock -> clean up after a crashed
 * run -> compare with the current generation (byte for byte; equal = nothing rewritten) -> write a
 * new hidden generation (key born 0600, files fsync'd, owned, directory fsync'd) -> create missing
 * per-file symlinks -> `..previous` -> old generation -> `..data` -> new generation (one rename,
 * the only moment readers see a change) -> fsync the directory -> drop generations older than
 * the previous one. A reader resolving `<dir>/cert.pem` then `<dir>/key.pem` gets both from the
 * generation `..data` named at that moment, so a crash at any point leaves the old or the new set.
 *
 * Owner/mode drift on the current generation (someone ran chmod/chown) is repaired in place,
 * without a new generation: the bytes readers see do not change, so `changed` stays false and
 * the repair is listed in `repaired`.
 */
import { constants, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FileNames, FilesSpec } from '../config/types.js';
import { WriteError } from '../errors.js';
import { attempt, errnoOf, replaceSymlink, syncDirectory, toWriteError, writeNewFiles } from './fs-ops.js';
import {
  DATA_LINK,
  DATA_TMP,
  isGenerationName,
  isHolderAlive,
  LINK_TMP_PREFIX,
  LOCK_FILE,
  lockDirectory,
  newGenerationName,
  PREVIOUS_LINK,
  PREVIOUS_TMP,
  readLockHolder,
  TAKEOVER_FILE,
  visibleLinkTarget,
} from './layout.js';
import { lstat, lstatIfExists, mkdir, open, readdir, readlink, rm, stat } from './local-fs.js';
import { type Ownership, type OwnershipSources, resolveOwnership } from './owners.js';
import { assertSafeTarget, childPath } from './safety.js';

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
}

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

function trustedUids(ids: Ownership): Set<number> {
  const trusted = new Set<number>([0, process.geteuid?.() ?? 0]);
  if (ids.uid !== undefined) trusted.add(ids.uid);
  return trusted;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstatIfExists(path);
  } catch (error) {
    throw toWriteError(error, 'inspect', path);
  }
}

/** The generation a pointer symlink names; anything that is not one of ours is refused. */
async function readPointer(dir: string, link: string): Promise<string | undefined> {
  const path = join(dir, link);
  const st = await lstatOrUndefined(path);
  if (!st) return undefined;
  if (!st.isSymbolicLink())
    throw new WriteError('unsafe-target', `${path} is not a symlink`, { details: { path } });
  const target = await attempt('read link', path, () => readlink(path));
  if (!isGenerationName(target)) {
    throw new WriteError('unsafe-target', `${path} points at "${target}", not at a generation in ${dir}`, {
      details: { path },
    });
  }
  return target;
}

async function isDirectory(path: string): Promise<boolean> {
  const st = await lstatOrUndefined(path);
  return st?.isDirectory() ?? false;
}

interface FileState {
  data?: Buffer;
  stats?: Stats;
  errno?: string;
}

/** Read one file without following a symlink, with the stats of the very file read. */
async function readNoFollow(path: string): Promise<FileState> {
  try {
    // O_NONBLOCK: a FIFO planted in the set's place opens at once (and is then refused as not a file) instead
    // of blocking the agent until something writes to it; for a regular file it changes nothing.
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const stats = await fh.stat();
      if (!stats.isFile()) return { stats, errno: 'EISDIR' };
      return { data: await fh.readFile(), stats };
    } finally {
      await fh.close();
    }
  } catch (error) {
    return { errno: errnoOf(error) ?? 'unknown' };
  }
}

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

/** chown+chmod through a handle; `follow` only for files.dir itself (a symlink there was vetted). */
async function fixByHandle(
  path: string,
  mode: number,
  ids: Ownership,
  directory: boolean,
  follow = false,
): Promise<void> {
  await attempt('repair', path, async () => {
    const flags =
      constants.O_RDONLY |
      constants.O_NONBLOCK |
      (follow ? 0 : constants.O_NOFOLLOW) |
      (directory ? constants.O_DIRECTORY : 0);
    const fh = await open(path, flags);
    try {
      if (ids.uid !== undefined || ids.gid !== undefined) await fh.chown(ids.uid ?? -1, ids.gid ?? -1);
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
  });
}

function modeDrift(
  path: string,
  st: Stats,
  mode: number,
  ids: Ownership,
  directory: boolean,
  follow = false,
): Drift | undefined {
  const parts: string[] = [];
  if ((st.mode & 0o7777) !== mode)
    parts.push(`mode ${(st.mode & 0o7777).toString(8)} -> ${mode.toString(8)}`);
  if (ownershipDiffers(st, ids))
    parts.push(`owner ${st.uid}:${st.gid} -> ${ids.uid ?? st.uid}:${ids.gid ?? st.gid}`);
  if (parts.length === 0) return undefined;
  return {
    what: `${path}: ${parts.join(', ')}`,
    fix: () => fixByHandle(path, mode, ids, directory, follow),
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

/** Everything that differs from the wanted owner/mode/links for the current generation. */
async function collectDrift(
  spec: FilesSpec,
  generation: string,
  states: Map<string, FileState>,
  entries: Entry[],
  ids: Ownership,
): Promise<Drift[]> {
  const drift: Drift[] = [];
  const dirStat = await attempt('inspect', spec.dir, () => stat(spec.dir));
  const dirFix = modeDrift(spec.dir, dirStat, spec.dirMode & 0o7777, ids, true, true);
  if (dirFix) drift.push(dirFix);
  const genPath = join(spec.dir, generation);
  const genStat = await attempt('inspect', genPath, () => lstat(genPath));
  const genFix = modeDrift(genPath, genStat, spec.dirMode & 0o7777, ids, true);
  if (genFix) drift.push(genFix);
  for (const e of entries) {
    const st = states.get(e.name)?.stats;
    const fix = st && modeDrift(join(genPath, e.name), st, e.mode, ids, false);
    if (fix) drift.push(fix);
  }
  drift.push(...(await linkDrift(spec.dir, entries)));
  return drift;
}

/** Entries a crashed or interrupted run leaves behind, and generations nothing points at. */
async function strays(dir: string, keep: ReadonlySet<string>): Promise<string[]> {
  const names = await attempt('list', dir, () => readdir(dir));
  return names.filter(
    (n) =>
      n === DATA_TMP ||
      n === PREVIOUS_TMP ||
      n === LOCK_FILE ||
      n === TAKEOVER_FILE ||
      n.startsWith(`${LOCK_FILE}.`) ||
      n.startsWith(LINK_TMP_PREFIX) ||
      (isGenerationName(n) && !keep.has(n)),
  );
}

/** Clean-up after a crashed run; the caller holds the lock. Returns what was removed. */
async function recoverLocked(dir: string): Promise<string[]> {
  const removed: string[] = [];
  const current = await readPointer(dir, DATA_LINK);
  let previous = await readPointer(dir, PREVIOUS_LINK);
  if (previous !== undefined && (previous === current || !(await isDirectory(join(dir, previous))))) {
    await attempt('remove', join(dir, PREVIOUS_LINK), () => rm(join(dir, PREVIOUS_LINK), { force: true }));
    removed.push(PREVIOUS_LINK);
    previous = undefined;
  }
  const keep = new Set([current, previous].filter((g): g is string => g !== undefined));
  for (const name of await strays(dir, keep)) {
    if (name === LOCK_FILE || name === `${LOCK_FILE}.${process.pid}`) continue; // ours, held right now
    if (name === TAKEOVER_FILE || name.startsWith(`${LOCK_FILE}.`)) {
      // Another writer publishing its lock, or inside a takeover: its file names it.
      const holder = await readLockHolder(join(dir, name));
      if (holder !== undefined && (await isHolderAlive(holder))) continue;
    }
    const path = join(dir, name);
    await attempt('remove', path, () => rm(path, { recursive: true, force: true }));
    removed.push(name);
  }
  if (removed.length > 0) await syncDirectory(dir);
  return removed;
}

/** Create `files.dir` (dirMode, owner) when missing; parents get 0755 like `mkdir -p`. */
async function ensureDirectory(spec: FilesSpec, ids: Ownership): Promise<boolean> {
  if (await lstatOrUndefined(spec.dir)) return false;
  const parent = dirname(spec.dir);
  await attempt('create', parent, () => mkdir(parent, { recursive: true, mode: 0o755 }));
  await attempt('create', spec.dir, async () => {
    try {
      await mkdir(spec.dir, { mode: 0o700 });
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    }
  });
  await fixByHandle(spec.dir, spec.dirMode & 0o7777, ids, true, true);
  await syncDirectory(parent);
  return true;
}

/** Write a complete generation; on any failure it is removed again and the error names the file. */
async function createGeneration(
  spec: FilesSpec,
  contents: { entry: Entry; data: Buffer }[],
  ids: Ownership,
  now: () => Date,
): Promise<string> {
  const name = newGenerationName(now());
  const path = join(spec.dir, name);
  // 0700 while filling it; the final dirMode/owner are applied once the files are complete.
  await attempt('create', path, () => mkdir(path, { mode: 0o700 }));
  try {
    // The files complete, then the directory's final mode and owner, then files and directory flushed together.
    await writeNewFiles(
      path,
      contents.map(({ entry, data }) => ({ name: entry.name, data, mode: entry.mode })),
      ids,
      () => fixByHandle(path, spec.dirMode & 0o7777, ids, true),
    );
  } catch (error) {
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
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
  spec: FilesSpec,
  entries: Entry[],
  ids: Ownership,
  now: () => Date,
): Promise<{ generation: string; migrated: string[] } | undefined> {
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
  const generation = await createGeneration(spec, found, ids, now);
  try {
    await replaceSymlink(join(spec.dir, DATA_LINK), join(spec.dir, DATA_TMP), generation);
  } catch (error) {
    await rm(join(spec.dir, generation), { recursive: true, force: true }).catch(() => undefined);
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

async function prepare(
  spec: FilesSpec,
  options: WriterOptions,
): Promise<{ entries: Entry[]; ids: Ownership; trusted: Set<number> }> {
  const entries = entriesOf(spec);
  // Names first: an unknown owner must fail before anything is written.
  const ids = await resolveOwnership(spec.owner, spec.group, options.ownership);
  const trusted = trustedUids(ids);
  await assertSafeTarget(spec.dir, trusted);
  return { entries, ids, trusted };
}

/** Read-only check: is the wanted set already current, clean and correctly owned? */
async function alreadyCurrent(
  spec: FilesSpec,
  entries: Entry[],
  ids: Ownership,
  want: Map<string, Buffer>,
): Promise<string | undefined> {
  if (!(await lstatOrUndefined(spec.dir))) return undefined;
  const current = await readPointer(spec.dir, DATA_LINK);
  if (!current) return undefined;
  const previous = await readPointer(spec.dir, PREVIOUS_LINK);
  if (previous === current || (previous && !(await isDirectory(join(spec.dir, previous))))) return undefined;
  const keep = new Set([current, previous].filter((g): g is string => g !== undefined));
  if ((await strays(spec.dir, keep)).length > 0) return undefined;
  const states = await readGeneration(spec.dir, current, entries);
  if (!sameContent(states, entries, want)) return undefined;
  const drift = await collectDrift(spec, current, states, entries, ids);
  return drift.length === 0 ? current : undefined;
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
  const { entries, ids } = await prepare(spec, options);
  const want = new Map(entries.map((e) => [e.name, toBytes(files[e.role])]));

  const unchanged = await alreadyCurrent(spec, entries, ids, want);
  if (unchanged) return { changed: false, generation: unchanged, repaired: [], warnings: [] };

  const repaired: string[] = [];
  if (await ensureDirectory(spec, ids)) repaired.push(`${spec.dir}: created`);
  const release = await lockDirectory(spec.dir);
  try {
    const removed = await recoverLocked(spec.dir);
    if (removed.length > 0) repaired.push(`${spec.dir}: removed leftovers ${removed.join(' ')}`);

    const dataLink = await readPointer(spec.dir, DATA_LINK);
    let current = dataLink;
    if (current && !(await isDirectory(join(spec.dir, current)))) current = undefined;
    if (!current) {
      const migration = await migratePlainFiles(spec, entries, ids, now);
      if (migration) {
        current = migration.generation;
        repaired.push(`migrated plain files to generation ${current}: ${migration.migrated.join(' ')}`);
      }
    }

    if (current) {
      const states = await readGeneration(spec.dir, current, entries);
      if (sameContent(states, entries, want)) {
        const drift = await collectDrift(spec, current, states, entries, ids);
        for (const d of drift) await d.fix();
        if (drift.length > 0) await syncDirectory(spec.dir);
        repaired.push(...drift.map((d) => d.what));
        return { changed: drift.some((d) => d.visible), generation: current, repaired, warnings: [] };
      }
    }

    const dirDrift = modeDrift(
      spec.dir,
      await attempt('inspect', spec.dir, () => stat(spec.dir)),
      spec.dirMode & 0o7777,
      ids,
      true,
      true,
    );
    if (dirDrift) {
      await dirDrift.fix();
      repaired.push(dirDrift.what);
    }

    const generation = await createGeneration(
      spec,
      entries.map((entry) => ({ entry, data: want.get(entry.name) as Buffer })),
      ids,
      now,
    );
    const oldPrevious = await readPointer(spec.dir, PREVIOUS_LINK);
    try {
      await options.verify?.(join(spec.dir, generation));
      // Links first (they resolve through ..data, so they show the old set until the swap).
      for (const d of await linkDrift(spec.dir, entries)) await d.fix();
      // ..previous before ..data: a crash in between leaves old = current = previous, never a
      // previous that was already collected.
      if (current) {
        await replaceSymlink(join(spec.dir, PREVIOUS_LINK), join(spec.dir, PREVIOUS_TMP), current);
      }
      await replaceSymlink(join(spec.dir, DATA_LINK), join(spec.dir, DATA_TMP), generation, {
        missing: current === undefined && dataLink === undefined,
      });
    } catch (error) {
      if (oldPrevious && current) {
        await replaceSymlink(join(spec.dir, PREVIOUS_LINK), join(spec.dir, PREVIOUS_TMP), oldPrevious).catch(
          () => undefined,
        );
      }
      await rm(join(spec.dir, generation), { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }

    // The switch happened: what follows cannot undo it, so failures are warnings.
    const warnings: string[] = [];
    await syncDirectory(spec.dir).catch((error: unknown) => warnings.push(String((error as Error).message)));
    // Without a current set, ..previous was left alone and still names its generation.
    const kept = current ?? oldPrevious;
    const keep = new Set([generation, kept].filter((g): g is string => g !== undefined));
    for (const name of await strays(spec.dir, keep).catch(() => [] as string[])) {
      if (!isGenerationName(name)) continue;
      await rm(join(spec.dir, name), { recursive: true, force: true }).catch((error: unknown) =>
        warnings.push(`cannot remove old generation ${join(spec.dir, name)}: ${errnoOf(error) ?? error}`),
      );
    }
    return { changed: true, generation, repaired, warnings };
  } finally {
    await release();
  }
}

/**
 * What readers of `spec.dir` see now: every file's content, or which one is missing/unreadable.
 * With the generation layout all files are read from the one generation `..data` names.
 */
export async function readCertificateSet(spec: FilesSpec): Promise<CertificateSetReading> {
  const entries = entriesOf(spec);
  const generation = (await lstatOrUndefined(spec.dir)) ? await readPointer(spec.dir, DATA_LINK) : undefined;
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
    const state = await readNoFollow(source);
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
  const { entries } = await prepareForExisting(spec, options);
  if (!(await lstatOrUndefined(spec.dir)))
    return { rolledBack: false, generation: undefined, previous: undefined };
  const release = await lockDirectory(spec.dir);
  try {
    await recoverLocked(spec.dir);
    const current = await readPointer(spec.dir, DATA_LINK);
    const previous = await readPointer(spec.dir, PREVIOUS_LINK);
    if (!previous || !current) return { rolledBack: false, generation: current, previous };
    for (const d of await linkDrift(spec.dir, entries)) await d.fix();
    // ..data first: a crash before ..previous is updated still leaves the rollback done.
    await replaceSymlink(join(spec.dir, DATA_LINK), join(spec.dir, DATA_TMP), previous);
    await replaceSymlink(join(spec.dir, PREVIOUS_LINK), join(spec.dir, PREVIOUS_TMP), current);
    await syncDirectory(spec.dir);
    return { rolledBack: true, generation: previous, previous: current };
  } finally {
    await release();
  }
}

/**
 * Remove what a killed writer left behind (`..data_tmp`, half-written generations, stale locks).
 * `writeCertificateSet` does this itself before every switch; exported for start-up and tests.
 */
export async function recoverCertificateDir(spec: FilesSpec, options: WriterOptions = {}): Promise<string[]> {
  await prepareForExisting(spec, options);
  if (!(await lstatOrUndefined(spec.dir))) return [];
  const release = await lockDirectory(spec.dir);
  try {
    return await recoverLocked(spec.dir);
  } finally {
    await release();
  }
}

/** Like prepare(), but an owner that no longer resolves must not block a rollback or clean-up. */
async function prepareForExisting(spec: FilesSpec, options: WriterOptions): Promise<{ entries: Entry[] }> {
  const entries = entriesOf(spec);
  const ids = await resolveOwnership(spec.owner, spec.group, options.ownership).catch(
    () => ({}) as Ownership,
  );
  await assertSafeTarget(spec.dir, trustedUids(ids));
  return { entries };
}
