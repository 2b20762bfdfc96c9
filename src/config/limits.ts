/**
 * Limits on config values that the schema's shapes accept but that would hurt (issue 13): modes that let
 * another user rewrite a set (ca.pem is the trust anchor of whoever reads it), and lifetimes too short to be
 * renewed by a loop that has to ask Vault. Pure; schema.ts words the issue at the key.
 */

/** Below this a certificate cannot be renewed in time: Vault's answer, the write and the actions take seconds. */
const MIN_TTL_SECONDS = 10;

export function ttlProblem(seconds: number): string | undefined {
  return seconds < MIN_TTL_SECONDS
    ? `${seconds}s is too short: a certificate must live at least ${MIN_TTL_SECONDS}s to be renewed before it expires`
    : undefined;
}

/**
 * certMode and dirMode: never writable by group or others. The agent is the only writer of a set; with a
 * writable certMode anyone in the group (or on the host) could rewrite ca.pem or cert.pem, with a writable
 * dirMode plant or swap entries in the set directory. The key is always 0600 whatever certMode says.
 */
export function fileModeProblem(mode: number, key: 'certMode' | 'dirMode'): string | undefined {
  const octal = `"0${mode.toString(8).padStart(3, '0')}"`;
  if ((mode & 0o022) === 0) return undefined;
  const who = (mode & 0o002) !== 0 ? 'every user on the host' : 'the group';
  const what =
    key === 'certMode'
      ? 'rewrite the certificate files, ca.pem (the trust anchor) included'
      : 'add, remove or replace entries in the set directory';
  const example = key === 'certMode' ? '"0644" or "0640"' : '"0750" or "0755"';
  return `${octal} lets ${who} ${what}: modes must not be writable by group or others (e.g. ${example})`;
}
