/**
 * The service-account key pair every control-plane node shares, end to end against a real OpenBao with the
 * bundled agent: `provision` creates it once in a KV v2 mount (never overwritten, never printed), only the
 * control-plane policy reads it, `bootstrap` writes the signing key and the verification bundle 0600 (only when
 * they change), and after `provision --rotate-service-account-key` a token signed with the previous key still
 * verifies against the bundle the node wrote.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, startAgent, waitFor } from '../support/agent.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';

let vault: TestVault;
let work: string;
const SECRET = 'k8s/c1/kv/data/service-account';

const operator = (args: string[]) =>
  runAgent(args, { env: { VAULT_ADDR: vault.address, VAULT_TOKEN: vault.rootToken } });

async function tokenFor(nodeType: string): Promise<string> {
  const run = await operator(['token', 'create', '--cluster', 'c1', '--node-type', nodeType]);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout.trim();
}

async function secret() {
  const res = await vault.api('GET', SECRET);
  const body = res.body.data as { data: { private_key: string }; metadata: { version: number } };
  return { privateKey: body.data.private_key, version: body.metadata.version };
}

const keyFile = () => join(work, 'kubernetes', 'pki', 'sa.key');
const pubFile = () => join(work, 'kubernetes', 'pki', 'sa.pub');

async function bootstrap() {
  return runAgent(['bootstrap', '--config', await writeConfig()]);
}

async function writeConfig(): Promise<string> {
  const tokenFile = join(work, 'token');
  writeFileSync(tokenFile, `${await tokenFor('control-plane')}\n`, { mode: 0o600 });
  const config = join(work, 'config.yaml');
  writeFileSync(
    config,
    [
      'cluster: c1',
      `vault: { address: ${vault.address}, tokenFile: ${tokenFile} }`,
      `stateDir: ${join(work, 'state')}`,
      'node: { name: control-plane-1, ip: 10.0.0.20 }',
      'certificates:',
      '  controller-manager:',
      '    preset: controller-manager',
      `    files: { dir: ${join(work, 'kubernetes', 'pki', 'controller-manager')} }`,
      'serviceAccountKey:',
      `  key: ${keyFile()}`,
      `  publicKeys: ${pubFile()}`,
      '  owner: nobody',
      '',
    ].join('\n'),
  );
  return config;
}

/** A JWT-like token (RS256): header.payload.signature, base64url. */
function signToken(privateKeyPem: string, claims: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), createPrivateKey(privateKeyPem)).toString('base64url')}`;
}

/** What kube-apiserver does with --service-account-key-file: accept a token any key of the bundle verifies. */
function verifiesAgainstBundle(token: string, bundle: string): boolean {
  const [header, payload, signature] = token.split('.');
  const keys = bundle.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----\n/g) ?? [];
  return keys.some((k) =>
    verify(
      'sha256',
      Buffer.from(`${header}.${payload}`),
      createPublicKey(k),
      Buffer.from(signature!, 'base64url'),
    ),
  );
}

beforeAll(async () => {
  vault = await startOpenBao({ name: 'service-account-key' });
  work = mkdtempSync(join(tmpdir(), 'vpa-sa-key-'));
});

afterAll(async () => {
  await vault?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the service-account key pair (real OpenBao, bundled agent)', () => {
  it('provision creates it once in KV v2 without printing it; a second provision keeps it (no write)', async () => {
    const plan = await operator(['provision', '--cluster', 'c1', '--plan']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('+ mount k8s/c1/kv (KV v2');
    expect(plan.stdout).toContain(`+ service-account key ${SECRET}`);
    const first = await operator(['provision', '--cluster', 'c1']);
    expect(first.code, first.stderr).toBe(0);
    const created = await secret();
    expect(created.version).toBe(1);
    expect(createPrivateKey(created.privateKey).asymmetricKeyType).toBe('rsa');
    for (const out of [plan, first]) expect(`${out.stdout}${out.stderr}`).not.toMatch(/PRIVATE KEY|MII/);

    const again = await operator(['provision', '--cluster', 'c1']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^no changes/m);
    expect(again.stdout).not.toContain('service-account');
    expect(await secret()).toEqual(created);
  }, 60_000);

  it('only the control-plane policy reads it: worker and etcd-member tokens get 403', async () => {
    for (const nodeType of ['worker', 'etcd-member']) {
      const res = await vault.api('GET', SECRET, undefined, {
        token: await tokenFor(nodeType),
        allowError: true,
      });
      expect(res.status, nodeType).toBe(403);
    }
    const cp = await vault.api('GET', SECRET, undefined, {
      token: await tokenFor('control-plane'),
      allowError: true,
    });
    expect(cp.status).toBe(200);
  }, 60_000);

  it('bootstrap writes the signing key and its public key 0600 with the owner; a second run touches nothing', async () => {
    const boot = await bootstrap();
    expect(boot.code, boot.stderr).toBe(0);
    const { privateKey } = await secret();
    expect(readFileSync(keyFile(), 'utf8')).toBe(privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`);
    const expectedPub = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    expect(readFileSync(pubFile(), 'utf8')).toBe(expectedPub);
    const nobody = Number(
      readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('nobody:'))
        ?.split(':')[2],
    );
    for (const f of [keyFile(), pubFile()]) {
      expect(statSync(f).mode & 0o7777).toBe(0o600);
      expect(statSync(f).uid).toBe(nobody);
    }
    expect(`${boot.stdout}${boot.stderr}`).not.toMatch(/PRIVATE KEY/);
    const before = [keyFile(), pubFile()].map((f) => ({ ino: statSync(f).ino, mtime: statSync(f).mtimeMs }));
    const again = await bootstrap();
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/service-account key written/);
    expect([keyFile(), pubFile()].map((f) => ({ ino: statSync(f).ino, mtime: statSync(f).mtimeMs }))).toEqual(
      before,
    );
  }, 60_000);

  it('`run` writes them on its first pass, and again on SIGHUP (not at every wake)', async () => {
    rmSync(keyFile(), { force: true });
    rmSync(pubFile(), { force: true });
    const agent = startAgent(['run', '--config', await writeConfig()]);
    try {
      await waitFor(
        () => {
          try {
            return statSync(pubFile()).isFile();
          } catch {
            return false;
          }
        },
        20_000,
        'the service-account files',
      );
      // `systemctl reload` (SIGHUP) is how a rotation reaches a running daemon: the files come back.
      rmSync(pubFile(), { force: true });
      agent.kill('SIGHUP');
      await waitFor(
        () => {
          try {
            return statSync(pubFile()).isFile();
          } catch {
            return false;
          }
        },
        20_000,
        'the service-account files after SIGHUP',
      );
    } finally {
      await agent.stop('SIGTERM');
    }
    expect(readFileSync(keyFile(), 'utf8').trim()).toBe((await secret()).privateKey.trim());
  }, 60_000);

  it('rotation: the new signing key is written; tokens signed with the previous key keep verifying', async () => {
    const old = await secret();
    const oldToken = signToken(old.privateKey, { sub: 'system:serviceaccount:default:app', iat: 1 });
    const rotate = await operator(['provision', '--cluster', 'c1', '--rotate-service-account-key']);
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(rotate.stdout).toContain(
      `~ service-account key ${SECRET}: new signing key; 1 previous public key(s) kept`,
    );
    expect(`${rotate.stdout}${rotate.stderr}`).not.toMatch(/PRIVATE KEY/);
    const fresh = await secret();
    expect(fresh.version).toBe(old.version + 1);
    expect(fresh.privateKey).not.toBe(old.privateKey);

    const boot = await bootstrap();
    expect(boot.code, boot.stderr).toBe(0);
    expect(boot.stderr).toMatch(/service-account key written/);
    expect(readFileSync(keyFile(), 'utf8').trim()).toBe(fresh.privateKey.trim());
    const bundle = readFileSync(pubFile(), 'utf8');
    const pem = (k: string) => createPublicKey(k).export({ type: 'spki', format: 'pem' }).toString();
    // The new key first (what the apiserver signs with), then the previous one.
    expect(bundle).toBe(`${pem(fresh.privateKey)}${pem(old.privateKey)}`);
    const newToken = signToken(readFileSync(keyFile(), 'utf8'), {
      sub: 'system:serviceaccount:default:app',
      iat: 2,
    });
    expect(verifiesAgainstBundle(oldToken, bundle)).toBe(true);
    expect(verifiesAgainstBundle(newToken, bundle)).toBe(true);
    // A key that was never the cluster's does not verify (the check can fail).
    const { privateKey: stranger } = await import('node:crypto').then((c) =>
      c.generateKeyPairSync('rsa', { modulusLength: 2048 }),
    );
    const forged = signToken(stranger.export({ type: 'pkcs8', format: 'pem' }).toString(), { sub: 'x' });
    expect(verifiesAgainstBundle(forged, bundle)).toBe(false);
  }, 60_000);
});
