/**
 * Turns `files.owner` / `files.group` names into numeric ids before anything is written, so a
 * typo fails the run up front instead of leaving a half-owned set behind. Local files first
 * (/etc/passwd, /etc/group), then `getent` for NSS sources (LDAP, sssd). A name found nowhere is a
 * ConfigError; a lookup that could not be made (an unreadable file, a getent that fails or hangs) is a
 * WriteError saying what failed, never taken for "not found".
 */
import { ConfigError, WriteError } from '../errors.js';
import { ProgramError, runProgram } from '../util/program.js';
import { readFile } from './local-fs.js';

export interface Ownership {
  /** undefined = leave the owner as created (the agent's user). */
  uid?: number;
  /** undefined = leave the group as created. */
  gid?: number;
}

/**
 * The primary group (passwd's 4th field) of an owner given by name; undefined for a number or a name
 * nowhere to be found. The set directory's group when no group is configured.
 */
export async function primaryGroupOf(
  owner: string | undefined,
  sources: OwnershipSources = {},
): Promise<number | undefined> {
  if (owner === undefined || owner === '' || /^\d+$/.test(owner)) return undefined;
  const text = await readIdFile(sources.passwdPath ?? '/etc/passwd');
  const local = parseIdFile(text, 3).get(owner);
  if (local !== undefined) return local;
  const line = await (sources.getent ?? runGetent)('passwd', owner);
  return line ? parseIdFile(line, 3).get(owner) : undefined;
}

export interface OwnershipSources {
  passwdPath?: string;
  groupPath?: string;
  /** Look a name up through NSS; resolves the matching line or undefined. */
  getent?: (database: 'passwd' | 'group', name: string) => Promise<string | undefined>;
}

/** name -> the id in field `idField` (passwd: 2 = uid, 3 = gid; group: 2 = gid) of passwd/group text. */
function parseIdFile(text: string, idField: number): Map<string, number> {
  const ids = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const name = fields[0];
    const id = fields[idField];
    if (!name || id === undefined || !/^\d+$/.test(id)) continue;
    // The first entry wins, as in getpwnam(3) over files.
    if (!ids.has(name)) ids.set(name, Number(id));
  }
  return ids;
}

/** A missing file has no entries (NSS may still know the name); any other read failure is an error. */
async function readIdFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new WriteError(
      'write-failed',
      `cannot read ${path} to look up owners: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** The matching line from `getent <database> <name>`, or undefined when it exits 2 (not found). */
async function runGetent(database: 'passwd' | 'group', name: string): Promise<string | undefined> {
  try {
    const { exitCode, stdout } = await runProgram(['getent', database, name], {
      timeoutMs: 5000,
      answers: [2],
    });
    return exitCode === 0 ? stdout.split('\n')[0] : undefined;
  } catch (error) {
    if (!(error instanceof ProgramError)) throw error;
    throw new WriteError('write-failed', `cannot look up ${database} entry "${name}": ${error.message}`, {
      cause: error,
    });
  }
}

async function lookup(
  kind: 'owner' | 'group',
  name: string,
  path: string,
  getent: (database: 'passwd' | 'group', name: string) => Promise<string | undefined>,
): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const database = kind === 'owner' ? 'passwd' : 'group';
  const local = parseIdFile(await readIdFile(path), 2).get(name);
  if (local !== undefined) return local;
  const line = await getent(database, name);
  const id = line ? parseIdFile(line, 2).get(name) : undefined;
  if (id !== undefined) return id;
  throw new ConfigError(
    `files.${kind} "${name}" is not a known ${kind === 'owner' ? 'user' : 'group'} on this host (${path}, getent ${database})`,
    { details: { [kind]: name } },
  );
}

/** Numeric owner/group for a set; names are checked here, before any file is written. */
export async function resolveOwnership(
  owner: string | undefined,
  group: string | undefined,
  sources: OwnershipSources = {},
): Promise<Ownership> {
  const getent = sources.getent ?? runGetent;
  const result: Ownership = {};
  if (owner !== undefined && owner !== '')
    result.uid = await lookup('owner', owner, sources.passwdPath ?? '/etc/passwd', getent);
  if (group !== undefined && group !== '')
    result.gid = await lookup('group', group, sources.groupPath ?? '/etc/group', getent);
  return result;
}

/** Whether `owner` (a name) is a listed member of `group` (a name): /etc/group, then getent. */
export async function isGroupMember(
  owner: string | undefined,
  group: string | undefined,
  sources: OwnershipSources = {},
): Promise<boolean> {
  if (!owner || !group || /^\d+$/.test(owner)) return false;
  const membersOf = (line: string | undefined) =>
    (line ?? '')
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => f[0] === group)?.[3]
      ?.split(',')
      .map((m) => m.trim()) ?? [];
  if (membersOf(await readIdFile(sources.groupPath ?? '/etc/group')).includes(owner)) return true;
  return membersOf(await (sources.getent ?? runGetent)('group', group)).includes(owner);
}
