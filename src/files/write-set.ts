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
 * Owner/mode drift on the current generation (someone ran chmod/chown) is repaired in place
 * (repair.ts), without a new generation: the bytes readers see do not change, so `changed` stays
 * false and the repair is listed in `repaired`.
 */
import { join } from 'node:path';
import type { FilesSpec } from '../config/types.js';
import { WriteError } from '../errors.js';
import { attempt, errnoOf, replaceSymlink, syncDirectory, toWriteError, writeNewFiles } from './fs-ops.js';
import {
  DATA_LINK,
  DATA_TMP,
  isGenerationName,
  LINK_TMP_PREFIX,
  newGenerationName,
  PREVIOUS_LINK,
  PREVIOUS_TMP,
  visibleLinkTarget,
} from './layout.js';
import { mkdir } from './local-fs.js';
import { type CertificateSetReading, readCertificateSet, readGeneration, sameContent } from './read-set.js';
import { collectDrift, linkDrift } from './repair.js';
import { readRegularFile, removeTree, takeDirectory } from './root-owned.js';
import {
  generationIsClean,
  isDirectory,
  lstatOrUndefined,
  needsTidying,
  readPointer,
  recoverLocked,
  secureSetDirectory,
  strays,
} from './set-directory.js';
import {
  type CertificateSetFiles,
  type Context,
  contextOf,
  type Entry,
  type LockWait,
  lockSet,
  signalWatchers,
  toBytes,
} from './set-files.js';

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

export interface WriteOptions extends LockWait {
  /**
   * What the caller's decision to write was based on. When the set on disk is no longer that generation
   * once the lock is held (another writer switched it meanwhile), `stillNeeded` is asked with the set as it
   * is now; false keeps it (the result says `superseded`).
   */
  recheck?: { generation: string | undefined; stillNeeded: (now: CertificateSetReading) => boolean };
}

/** Write a complete generation; on any failure it is removed again and the error names the file. */
async function createGeneration(ctx: Context, contents: { entry: Entry; data: Buffer }[]): Promise<string> {
  const name = newGenerationName(new Date());
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
): Promise<{ generation: string; migrated: string[] } | undefined> {
  const { spec, entries } = ctx;
  const found: { entry: Entry; data: Buffer }[] = [];
  for (const entry of entries) {
    const path = join(spec.dir, entry.name);
    const st = await lstatOrUndefined(path);
    if (!st?.isFile()) continue;
    const state = await readRegularFile(path);
    if (!state.data) {
      throw new WriteError('write-failed', `cannot read ${path} to migrate it: ${state.errno}`, {
        details: { path, errno: state.errno },
      });
    }
    found.push({ entry, data: state.data });
  }
  if (found.length === 0) return undefined;
  const generation = await createGeneration(ctx, found);
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

/**
 * Make `files` the current set in `spec.dir`. Nothing is written when the bytes, owners, modes and
 * links are already right. Throws WriteError('unsafe-target' | 'write-failed') and ConfigError for
 * an unknown owner/group; on failure the current set is left as it was.
 */
export async function writeCertificateSet(
  spec: FilesSpec,
  files: CertificateSetFiles,
  options: WriteOptions = {},
): Promise<WriteCertificateSetResult> {
  const ctx = await contextOf(spec, true);
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
      const migration = await migratePlainFiles(ctx);
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
    );
    const oldPrevious = await readPointer(spec.dir, PREVIOUS_LINK);
    // The generation rolled back to on a failed health check: only one holding nothing but the set's own
    // files (a directory of an earlier layout may hold what its owner planted); else it is removed.
    const rollbackTo =
      current && (await generationIsClean(join(spec.dir, current), ctx.names)) ? current : undefined;
    try {
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
