import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, WriteError } from '../../src/errors.js';
import { resolveOwnership } from '../../src/files/owners.js';
import { readCertificateSet } from '../../src/files/read-set.js';
import { writeCertificateSet } from '../../src/files/write-set.js';
import { asFiles, makePair, type PemSet, specFor } from '../support/cert-pairs.js';

describe('resolveOwnership', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'vpa-owners-'));
    writeFileSync(
      join(work, 'passwd'),
      '# comment\netcd:x:991:990::/var/lib/etcd:/sbin/nologin\netcd:x:5:5::/:/bin/false\n',
    );
    writeFileSync(join(work, 'group'), 'etcd:x:990:\nbroken-line\n');
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('parses passwd and group files (first entry wins)', async () => {
    const passwdPath = join(work, 'passwd-2');
    const groupPath = join(work, 'group-2');
    writeFileSync(passwdPath, 'root:x:0:0:root:/root:/bin/bash\netcd:x:991:990::/:/x\netcd:x:7:7::/:/x\n');
    writeFileSync(groupPath, 'wheel:x:10:a,b\nbad\n');
    const none = async () => undefined;
    const sources = { passwdPath, groupPath, getent: none };
    expect(await resolveOwnership('root', 'wheel', sources)).toEqual({ uid: 0, gid: 10 });
    expect(await resolveOwnership('etcd', undefined, sources)).toEqual({ uid: 991 });
    // 'bad' is a line without fields: no entry, so the name is unknown.
    await expect(resolveOwnership(undefined, 'bad', sources)).rejects.toThrow(ConfigError);
  });

  it('an unreadable passwd file is an error naming it, not an empty file', async () => {
    // A directory where the file should be: read fails with EISDIR.
    const error = await resolveOwnership('etcd', undefined, { passwdPath: work }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriteError);
    expect((error as Error).message).toContain(`cannot read ${work} to look up owners`);
  });

  it('resolves names from the files, numbers as given, and NSS names through getent', async () => {
    const sources = {
      passwdPath: join(work, 'passwd'),
      groupPath: join(work, 'group'),
      getent: async (db: 'passwd' | 'group', name: string) =>
        db === 'passwd' && name === 'ldap-user' ? 'ldap-user:*:20001:20001::/home/l:/bin/sh' : undefined,
    };
    expect(await resolveOwnership('etcd', 'etcd', sources)).toEqual({ uid: 991, gid: 990 });
    expect(await resolveOwnership('1234', undefined, sources)).toEqual({ uid: 1234 });
    expect(await resolveOwnership('ldap-user', undefined, sources)).toEqual({ uid: 20001 });
    expect(await resolveOwnership(undefined, undefined, sources)).toEqual({});
    await expect(resolveOwnership('etcd', 'nogroup-x', sources)).rejects.toThrow(ConfigError);
  });

  it('uses the real getent when the name is not in the given file', async () => {
    // root is always resolvable through NSS even when the passwd file given is empty.
    const empty = join(work, 'empty');
    writeFileSync(empty, '');
    expect(await resolveOwnership('root', 'root', { passwdPath: empty, groupPath: empty })).toEqual({
      uid: 0,
      gid: 0,
    });
  });
});

describe('a getent that fails is an error saying what failed, not "unknown user"', () => {
  it.each([
    [
      'exits 1',
      '#!/bin/sh\necho "nss backend down" >&2\nexit 1\n',
      'getent passwd nss-user failed with exit code 1: nss backend down',
    ],
    ['is not there', undefined, 'getent passwd nss-user could not be run (ENOENT)'],
  ])('getent %s', async (_case, script, wording) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpa-getent-'));
    if (script !== undefined) writeFileSync(join(dir, 'getent'), script, { mode: 0o755 });
    const savedPath = process.env.PATH;
    // Only the stand-in directory on PATH: with no stand-in, no getent is found at all.
    process.env.PATH = dir;
    try {
      const empty = join(dir, 'empty');
      writeFileSync(empty, '');
      const error = await resolveOwnership('nss-user', undefined, { passwdPath: empty }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WriteError);
      expect((error as Error).message).toContain(`cannot look up passwd entry "nss-user": ${wording}`);
    } finally {
      process.env.PATH = savedPath;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('getent exit 2 (not found) is an unknown name: a ConfigError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpa-getent-'));
    writeFileSync(join(dir, 'getent'), '#!/bin/sh\nexit 2\n', { mode: 0o755 });
    const savedPath = process.env.PATH;
    process.env.PATH = `${dir}:${savedPath}`;
    try {
      const empty = join(dir, 'empty');
      writeFileSync(empty, '');
      await expect(resolveOwnership('nss-user', undefined, { passwdPath: empty })).rejects.toThrow(
        /files.owner "nss-user" is not a known user/,
      );
    } finally {
      process.env.PATH = savedPath;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("getent runs without the Vault credentials in the agent's environment", () => {
  it('a stand-in getent first on PATH sees no VAULT_TOKEN', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpa-getent-'));
    const seen = join(dir, 'env');
    // A stand-in getent (a test fake): records its environment, answers for one NSS user.
    writeFileSync(
      join(dir, 'getent'),
      `#!/bin/sh\nenv > '${seen}'\necho 'nss-user:*:20002:20002::/:/bin/sh'\n`,
      { mode: 0o755 },
    );
    const saved = { PATH: process.env.PATH, VAULT_TOKEN: process.env.VAULT_TOKEN };
    process.env.PATH = `${dir}:${process.env.PATH}`;
    process.env.VAULT_TOKEN = 's.getent-must-not-see-this';
    try {
      const empty = join(dir, 'empty');
      writeFileSync(empty, '');
      expect(await resolveOwnership('nss-user', undefined, { passwdPath: empty })).toEqual({ uid: 20002 });
      const env = readFileSync(seen, 'utf8');
      expect(env).toMatch(/^PATH=/m);
      expect(env).not.toContain('VAULT_TOKEN');
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.VAULT_TOKEN === undefined) delete process.env.VAULT_TOKEN;
      else process.env.VAULT_TOKEN = saved.VAULT_TOKEN;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('owner and group applied to a set (real user and group)', () => {
  const isRoot = process.geteuid?.() === 0;
  const suffix = randomBytes(3).toString('hex');
  const user = `vpa-test-${suffix}`;
  const group = `vpa-test-${suffix}g`;
  let created = false;
  let base: string;
  let A: PemSet;
  let B: PemSet;

  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'vpa-owned-'));
    chmodSync(base, 0o755); // the test user must be able to traverse to the set
    A = makePair('A');
    B = makePair('B');
    if (!isRoot) return;
    execFileSync('groupadd', ['--system', group]);
    execFileSync('useradd', [
      '--system',
      '--no-create-home',
      '--no-user-group',
      '--groups',
      group,
      '--shell',
      '/usr/sbin/nologin',
      user,
    ]);
    created = true;
  });

  afterAll(() => {
    rmSync(base, { recursive: true, force: true });
    if (created) {
      spawnSync('userdel', [user]);
      spawnSync('groupdel', [group]);
    }
  });

  it('chowns every file; the directory and the generation directories are root:<group> (only root writes them)', async (ctx) => {
    if (!isRoot) ctx.skip('needs root to create a real user and group (useradd/groupadd) and to chown');
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
    expect(uid).toBeGreaterThan(0);
    const dir = join(base, 'etcd-pki');
    const spec = specFor(dir, { owner: user, group, certMode: 0o640, dirMode: 0o750 });

    const first = await writeCertificateSet(spec, asFiles(A));
    const second = await writeCertificateSet(spec, asFiles(B));
    for (const path of [dir, join(dir, first.generation), join(dir, second.generation)]) {
      // Issue 13: the directories were the owner's, who could then plant names the root agent wrote through.
      expect(statSync(path)).toMatchObject({ uid: 0, gid });
      expect(statSync(path).mode & 0o7777).toBe(0o750);
    }
    for (const name of ['cert.pem', 'key.pem', 'ca.pem', 'fullchain.pem']) {
      const st = statSync(join(dir, name));
      expect({ name, uid: st.uid, gid: st.gid }).toEqual({ name, uid, gid });
      expect(st.mode & 0o7777).toBe(name === 'key.pem' ? 0o600 : 0o640);
    }

    // The owner really can read its key through the symlinks; another unprivileged user cannot.
    const asOwner = spawnSync('runuser', ['-u', user, '--', 'cat', join(dir, 'key.pem')], {
      encoding: 'utf8',
    });
    expect(asOwner.status).toBe(0);
    expect(asOwner.stdout).toBe(B.key);
    const asNobody = spawnSync('runuser', ['-u', 'nobody', '--', 'cat', join(dir, 'key.pem')], {
      encoding: 'utf8',
    });
    expect(asNobody.status).not.toBe(0);

    // Group changed in the config: fixed in place, same generation, nothing rewritten.
    const regrouped = await writeCertificateSet({ ...spec, group: 'root' }, asFiles(B));
    expect(regrouped.changed).toBe(false);
    expect(regrouped.generation).toBe(second.generation);
    expect(regrouped.repaired.join('\n')).toContain(`owner ${uid}:${gid} -> ${uid}:0`);
    expect(statSync(join(dir, 'key.pem'))).toMatchObject({ uid, gid: 0 });

    // Owner changed in the config: the directory is root's, so the new owner is applied in place (before
    // issue 13 the directory was the old owner's and the writer refused until an operator handed it over).
    const rehomed = await writeCertificateSet({ ...spec, owner: 'root' }, asFiles(B));
    expect(rehomed.changed).toBe(false);
    expect(statSync(join(dir, 'key.pem'))).toMatchObject({ uid: 0 });
    expect((await readCertificateSet(spec)).complete).toBe(true);
  });
});
