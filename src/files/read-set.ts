/**
 * Reading a certificate set: what readers of the set directory see now (for the pass, `check`, `status`,
 * `revoke`), and a generation's files as the writer compares them with what it was asked to write.
 */
import { join } from 'node:path';
import type { FilesSpec } from '../config/types.js';
import { errnoOf } from './fs-ops.js';
import { DATA_LINK, visibleLinkTarget } from './layout.js';
import { lstatIfExists, readlink } from './local-fs.js';
import { MAX_SET_FILE_BYTES, type RegularFileRead, readRegularFile } from './root-owned.js';
import { isDirectory, readPointer } from './set-directory.js';
import { type CertificateFileRole, type Entry, entriesOf } from './set-files.js';

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
    // readers; the writer itself never reuses such a file (readGeneration), it writes a fresh generation.
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
 * The writer's reading of one generation: each file without following a symlink or blocking on a FIFO,
 * bounded in size, refused when it has other hard links, with the stats of the very file read.
 */
export async function readGeneration(
  dir: string,
  generation: string,
  entries: Entry[],
): Promise<Map<string, RegularFileRead>> {
  const states = new Map<string, RegularFileRead>();
  for (const e of entries) states.set(e.name, await readRegularFile(join(dir, generation, e.name)));
  return states;
}

/** True when every file read holds exactly the wanted bytes. */
export function sameContent(
  states: Map<string, RegularFileRead>,
  entries: Entry[],
  want: Map<string, Buffer>,
): boolean {
  return entries.every((e) => {
    const data = states.get(e.name)?.data;
    const wanted = want.get(e.name);
    return data !== undefined && wanted !== undefined && data.equals(wanted);
  });
}
