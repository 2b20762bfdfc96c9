/**
 * One file the agent owns outside a certificate set (a component kubeconfig, the service-account keys):
 * written atomically by atomic-file.ts (a temporary file created exclusively, owned and given its final mode
 * through its descriptor, fsync'd, renamed over the target, directory fsync'd) and only when its bytes, owner,
 * group or mode differ from what is there. The parent directory must pass the rules of set directories
 * (safety.ts: root's all the way, nothing writable by others); a missing one is created 0755.
 * A planted symlink at the target is never followed: it is read with O_NOFOLLOW (so it differs) and the
 * rename replaces the link itself.
 */
import { basename, dirname, join } from 'node:path';
import { WriteError } from '../errors.js';
import { writeFileAtomic } from './atomic-file.js';
import { toWriteError } from './fs-ops.js';
import { lstat } from './local-fs.js';
import { makeDirectories } from './make-directories.js';
import { type OwnershipSources, primaryGroupOf, resolveOwnership } from './owners.js';
import { agentUid, readRegularFile } from './root-owned.js';
import { assertSafeTarget } from './safety.js';
import { trustedUids } from './set-directory.js';

export interface OwnedFileSpec {
  /** Absolute, normalised path of the file. */
  path: string;
  owner?: string;
  group?: string;
  mode: number;
}

export interface OwnedFileResult {
  changed: boolean;
  /** The path written (the parent with every symlink resolved). */
  written: string;
}

const MAX_OWNED_FILE_BYTES = 1024 * 1024;

/**
 * The parent is checked like a set directory's parents, not like the set directory the writer makes itself:
 * writable by its group (without the sticky bit) lets that group swap the file, so it is refused too.
 */
async function checkedParent(parent: string, real: string): Promise<string> {
  const st = await lstat(real).catch((error: unknown) => {
    throw toWriteError(error, 'inspect', real);
  });
  if (st.mode & 0o020 && !(st.mode & 0o1000)) {
    throw new WriteError(
      'unsafe-target',
      `refusing to write under ${parent}: ${real} is writable by group ${st.gid} without the sticky bit`,
      { details: { path: parent } },
    );
  }
  return real;
}

async function safeParent(path: string): Promise<string> {
  const parent = dirname(path);
  const trusted = trustedUids();
  const first = await assertSafeTarget(parent, trusted);
  if (first.real !== undefined) return checkedParent(parent, first.real);
  await makeDirectories(parent, trusted, 0o755);
  const again = await assertSafeTarget(parent, trusted);
  if (again.real === undefined) throw toWriteError(new Error('vanished'), 'create directory', parent);
  return checkedParent(parent, again.real);
}

/** Writes `content` to `spec.path` unless the file already holds exactly it with the right owner and mode. */
export async function writeOwnedFile(
  spec: OwnedFileSpec,
  content: string | Buffer,
  sources: OwnershipSources = {},
): Promise<OwnedFileResult> {
  const ids = await resolveOwnership(spec.owner, spec.group, sources);
  const uid = ids.uid ?? agentUid();
  const gid = ids.gid ?? (await primaryGroupOf(spec.owner, sources)) ?? process.getegid?.() ?? 0;
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const dir = await safeParent(spec.path);
  const target = join(dir, basename(spec.path));

  const current = await readRegularFile(target, MAX_OWNED_FILE_BYTES);
  if (
    current.data !== undefined &&
    current.stats !== undefined &&
    current.data.equals(data) &&
    current.stats.uid === uid &&
    current.stats.gid === gid &&
    (current.stats.mode & 0o7777) === spec.mode
  ) {
    return { changed: false, written: target };
  }

  await writeFileAtomic(target, data, spec.mode, 'write', { uid, gid });
  return { changed: true, written: target };
}
