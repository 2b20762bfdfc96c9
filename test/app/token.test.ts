/**
 * The token-file auth method in process, against a recording stand-in for the VaultClient port (only the
 * token calls it makes are answered): what `login` asks Vault, and what `refresh` does with a rotated,
 * half-written or unusable token file. End to end (the bundled agent, a real OpenBao): test/app/run.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tokenFileAuth } from '../../src/app/token.js';
import { VaultRefusedError } from '../../src/errors.js';
import type { TokenInfo, VaultClient } from '../../src/vault/vault-client.js';
import { createMemoryLogger } from '../support/memory-logger.js';

const INFO: TokenInfo = {
  policies: ['node'],
  ttlSeconds: 3600,
  renewable: true,
  explicitMaxTtlSeconds: 0,
  numUses: 0,
  orphan: true,
};

/** Records setToken and lookupSelf; a token in `dead` is refused by lookupSelf. */
function recordingVault(dead: string[] = []) {
  const calls: string[] = [];
  let current = '';
  const vault = {
    setToken: (token: string) => {
      current = token;
      calls.push(`setToken ${token}`);
    },
    lookupSelf: async () => {
      calls.push(`lookupSelf ${current}`);
      if (dead.includes(current)) throw new VaultRefusedError('token-invalid', 'permission denied');
      return INFO;
    },
  } as unknown as VaultClient;
  return { vault, calls };
}

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vpa-auth-'));
  file = join(dir, 'token');
  writeFileSync(file, 's.first-token-0123456789\n', { mode: 0o600 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const auth = (log = createMemoryLogger()) =>
  tokenFileAuth({ configFile: file, env: {}, log, wrapped: false });

describe('tokenFileAuth', () => {
  it('login sets the token on the client and asks Vault nothing unless told to look it up', async () => {
    const { vault, calls } = recordingVault();
    const login = await auth().login(vault);
    expect(login).toEqual({
      session: { token: 's.first-token-0123456789', origin: file, file },
      info: undefined,
    });
    expect(calls).toEqual(['setToken s.first-token-0123456789']);
    const looked = await auth().login(vault, { lookup: true });
    expect(looked.info).toEqual(INFO);
    expect(calls.slice(1)).toEqual([
      'setToken s.first-token-0123456789',
      'lookupSelf s.first-token-0123456789',
    ]);
  });

  it('refresh: unchanged file, nothing; rotated file, the new token looked up and in use', async () => {
    const { vault, calls } = recordingVault();
    const log = createMemoryLogger();
    const method = auth(log);
    const { session } = await method.login(vault);
    expect(await method.refresh?.(vault, session)).toBeUndefined();
    writeFileSync(file, 's.second-token-0123456789\n');
    const changed = await method.refresh?.(vault, session);
    expect(changed).toEqual({ session: { ...session, token: 's.second-token-0123456789' }, info: INFO });
    expect(calls.at(-1)).toBe('lookupSelf s.second-token-0123456789');
    expect(log.lines.join('\n')).toMatch(/token file changed: using the new token/);
  });

  it('refresh keeps the current token when the file is half-written or the new token is refused', async () => {
    const { vault, calls } = recordingVault(['s.revoked-token-0123456789']);
    const log = createMemoryLogger();
    const method = auth(log);
    const { session } = await method.login(vault);
    writeFileSync(file, 's.half written\n');
    expect(await method.refresh?.(vault, session)).toBeUndefined();
    expect(log.lines.join('\n')).toMatch(
      /token file cannot be used; keeping the current token.*more than one word/,
    );
    writeFileSync(file, 's.revoked-token-0123456789\n');
    expect(await method.refresh?.(vault, session)).toBeUndefined();
    expect(log.lines.join('\n')).toMatch(
      /token file changed but the new token cannot be used; keeping the old one/,
    );
    // The refused token was tried, then the current one put back on the client.
    expect(calls.slice(-2)).toEqual(['lookupSelf s.revoked-token-0123456789', `setToken ${session.token}`]);
  });
});
