/**
 * The token-file auth method (the one implementation of vault/auth-method.ts today). Where the Vault token
 * comes from (SPEC "Token sources", in order): --token-file, config vault.tokenFile, VAULT_TOKEN,
 * ~/.vault-token. The token is registered with the logger's redaction at once. A response-wrapped token is
 * unwrapped once and the unwrapped token replaces it in its file (0600). `run` re-reads the file at each wake.
 */

import { homedir } from 'node:os';
import { join } from 'node:path';
import { AgentError, ConfigError, VaultRefusedError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-file.js';
import { stat } from '../files/local-fs.js';
import { type Logger, registerSecret } from '../log.js';
import { readSmallFile, SmallFileError } from '../util/small-file.js';
import type { AuthMethod, Login, SessionToken } from '../vault/auth-method.js';
import type { TokenInfo, VaultClient } from '../vault/vault-client.js';

/** A Vault token is ~100 bytes (a batch token a few hundred): a bigger file is not a token file. */
export const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/** Anything but printable ASCII and blanks: no Vault token holds it, and it cannot go into an HTTP header. */
const NOT_TOKEN_BYTES = /[^\x21-\x7e \t\r\n]/;

/** A token and where it came from: a path or `VAULT_TOKEN` (`file` when it was read from one). */
export type TokenSource = SessionToken;

export interface TokenSourceInput {
  flagFile?: string;
  configFile?: string;
  env: Record<string, string | undefined>;
  home?: string;
  log: Logger;
}

/** A token file's one word, with the checks of start-up (mode warning, empty, more than one word): ConfigError. */
export async function readTokenFile(path: string, origin: string, log: Logger): Promise<TokenSource> {
  let text: string;
  try {
    // Non-blocking open and fstat first: a FIFO or device at the path is refused, not waited on.
    const file = readSmallFile(path, MAX_TOKEN_FILE_BYTES);
    if ((file.stat.mode & 0o077) !== 0) {
      log.warn('token file is readable by group or others: chmod 600 it', {
        file: path,
        mode: (file.stat.mode & 0o777).toString(8),
      });
    }
    // Byte for byte (latin1), so that a byte that is not valid UTF-8 is seen as such.
    text = file.data.toString('latin1');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      error instanceof SmallFileError
        ? error.message
        : code === 'ENOENT'
          ? 'does not exist'
          : code === 'EACCES'
            ? 'is not readable by the agent'
            : code;
    throw new ConfigError(`token file ${path} (${origin}) ${why}`, { cause: error });
  }
  const token = text.trim();
  if (!token) throw new ConfigError(`token file ${path} (${origin}) is empty`);
  // The content is never quoted: it may be a token with one bad byte.
  if (NOT_TOKEN_BYTES.test(token)) {
    throw new ConfigError(
      `token file ${path} (${origin}) holds bytes no Vault token contains (NUL, control or non-ASCII ` +
        'characters): is it the right file, written as text?',
    );
  }
  if (/\s/.test(token)) throw new ConfigError(`token file ${path} (${origin}) holds more than one word`);
  registerSecret(token);
  return { token, origin: path, file: path };
}

export async function resolveToken(input: TokenSourceInput): Promise<TokenSource> {
  if (input.flagFile) return readTokenFile(input.flagFile, '--token-file', input.log);
  if (input.configFile) return readTokenFile(input.configFile, 'vault.tokenFile', input.log);
  const fromEnv = input.env.VAULT_TOKEN?.trim();
  if (fromEnv) {
    if (NOT_TOKEN_BYTES.test(fromEnv) || /\s/.test(fromEnv)) {
      throw new ConfigError(
        'VAULT_TOKEN holds characters no Vault token contains (blanks, control or non-ASCII)',
      );
    }
    registerSecret(fromEnv);
    return { token: fromEnv, origin: 'VAULT_TOKEN' };
  }
  const home = input.home ?? homedir();
  const helper = join(home, '.vault-token');
  try {
    await stat(helper);
  } catch {
    throw new ConfigError(
      'no Vault token: give --token-file, set vault.tokenFile in the config, set VAULT_TOKEN, or log in (~/.vault-token)',
    );
  }
  return readTokenFile(helper, '~/.vault-token', input.log);
}

/** Replace a file's content atomically; the new file is 0600 from the moment it exists. */
export function writeSecretFile(path: string, content: string): Promise<void> {
  return writeFileAtomic(path, content, 0o600);
}

const TOKEN_CREATING_PATH = /^auth\/token\/create(-orphan)?(\/[^/]+)?$/;

/**
 * Unwrap a response-wrapped token (checked to come from a token-creating path) and persist the result
 * in place of the wrapping token, so the next start does not try to unwrap again.
 */
export async function unwrapTokenSource(
  source: TokenSource,
  vault: VaultClient,
  log: Logger,
): Promise<TokenSource> {
  const token = await vault.unwrapToken(source.token, (path) => TOKEN_CREATING_PATH.test(path));
  if (source.file) {
    try {
      await writeSecretFile(source.file, `${token}\n`);
    } catch (error) {
      throw new VaultRefusedError(
        'token-invalid',
        `unwrapped the token but could not store it in ${source.file}: ${(error as Error).message}; ` +
          'the wrapping token is now used, create a new one',
        { cause: error },
      );
    }
    log.info('response-wrapped token unwrapped and stored', { file: source.file });
  } else {
    log.info('response-wrapped token unwrapped (kept in memory only)', { origin: source.origin });
  }
  vault.setToken(token);
  return { ...source, token };
}

/**
 * Put a token to use without asking Vault about it: unwrap it first when the config says it is
 * response-wrapped (a token that was already unwrapped by an earlier start is recognised, with a
 * `lookup-self`, and used as is). `bootstrap` stops here: its first certificate request shows whether the
 * token works (a 403 is told apart from a missing policy then), which saves a request on every boot.
 */
export async function prepareToken(
  source: TokenSource,
  vault: VaultClient,
  wrapped: boolean,
  log: Logger,
): Promise<{ source: TokenSource; info?: TokenInfo }> {
  vault.setToken(source.token);
  if (!wrapped) return { source };
  try {
    return { source: await unwrapTokenSource(source, vault, log) };
  } catch (error) {
    if (!(AgentError.is(error) && error.code === 'wrapping-token-invalid')) throw error;
    // Not (or no longer) a wrapping token: fine if it is a live token, e.g. the one we stored last start.
    const info = await vault.lookupSelf().catch(() => {
      throw error;
    });
    log.info('token is not response-wrapped (already unwrapped): using it as is', {
      origin: source.origin,
    });
    return { source, info };
  }
}

/** prepareToken, then `lookup-self` so a dead token fails now and its TTL is known (what `run` needs). */
export async function activateToken(
  source: TokenSource,
  vault: VaultClient,
  wrapped: boolean,
  log: Logger,
): Promise<{ source: TokenSource; info: TokenInfo }> {
  const prepared = await prepareToken(source, vault, wrapped, log);
  return { source: prepared.source, info: prepared.info ?? (await vault.lookupSelf()) };
}

export interface TokenFileAuthInput extends TokenSourceInput {
  /** The config's vault.wrappedToken: the token is response-wrapped, unwrap it at first use. */
  wrapped: boolean;
}

/** The token-file auth method: the sources above, unwrapped when configured, the file re-read by `refresh`. */
export function tokenFileAuth(input: TokenFileAuthInput): AuthMethod {
  const { log, wrapped } = input;
  return {
    async login(vault: VaultClient, opts: { lookup?: boolean } = {}): Promise<Login> {
      const source = await resolveToken(input);
      const { source: session, info } = opts.lookup
        ? await activateToken(source, vault, wrapped, log)
        : await prepareToken(source, vault, wrapped, log);
      return { session, info };
    },

    async refresh(vault: VaultClient, current: SessionToken): Promise<Required<Login> | undefined> {
      if (!current.file) return undefined;
      // With start-up's checks: a file caught half-written (empty, two words) keeps the current token.
      const next = await readTokenFile(current.file, current.origin, log).then(
        (t) => t.token,
        (error: unknown) => {
          log.warn('token file cannot be used; keeping the current token', {
            error: (error as Error).message,
          });
          return undefined;
        },
      );
      if (!next || next === current.token) return undefined;
      try {
        const activated = await activateToken({ ...current, token: next }, vault, wrapped, log);
        log.info('token file changed: using the new token', {
          file: current.file,
          ttl_s: activated.info.ttlSeconds,
        });
        return { session: activated.source, info: activated.info };
      } catch (error) {
        log.error('token file changed but the new token cannot be used; keeping the old one', {
          file: current.file,
          error: (error as Error).message,
        });
        vault.setToken(current.token);
        return undefined;
      }
    },
  };
}
