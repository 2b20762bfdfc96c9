/**
 * The kube-credential cache: one JSON file per cluster and Vault under the user's cache directory
 * (`$XDG_CACHE_HOME` or `~/.cache`), directory 0700, file 0600 from the moment it exists, replaced atomically.
 */
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../files/atomic-file.js';
import { mkdir } from '../files/local-fs.js';
import { readSmallFile } from '../util/small-file.js';

export function credentialCacheDir(env: Record<string, string | undefined>): string {
  const base = env.XDG_CACHE_HOME?.trim() || join(env.HOME?.trim() || homedir(), '.cache');
  return join(base, 'vault-pki-agent', 'kube-credential');
}

export function credentialCacheFile(dir: string, cluster: string, address: string, mount: string): string {
  const id = createHash('sha256').update(`${address}\n${mount}`).digest('hex').slice(0, 12);
  return join(dir, `${cluster.replace(/[^A-Za-z0-9._-]/g, '_')}-${id}.json`);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The parsed cache file, or undefined when it is missing or unreadable (then a new credential is issued). */
export async function readCredentialCache(path: string): Promise<unknown> {
  try {
    // Bounded and non-blocking: a FIFO or a huge file in the cache directory means "no cache", never a hang.
    return JSON.parse(readSmallFile(path, 64 * 1024).data.toString('utf8'));
  } catch {
    return undefined;
  }
}

export async function writeCredentialCache(path: string, dir: string, record: unknown): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${JSON.stringify(record)}\n`, 0o600);
}
