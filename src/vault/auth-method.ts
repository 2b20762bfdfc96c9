/**
 * The auth-method port: how a command gets the Vault token it works with. `bootstrap`, `run`, `revoke` (through
 * app/wiring.ts) and the operator and engineer commands (app/vault-session.ts) all ask an AuthMethod, never a
 * token source directly. One implementation today, the token file (`tokenFileAuth` in app/token.ts:
 * --token-file, vault.tokenFile, VAULT_TOKEN, ~/.vault-token, optionally response-wrapped). AppRole, cloud
 * identity (AWS IAM) or TLS-certificate auth would be further implementations of the same two calls, chosen by
 * the config; the commands would not change.
 */
import type { TokenInfo, VaultClient } from './vault-client.js';

/** The token a command works with, and where it came from (for messages; `file` when it can be re-read). */
export interface SessionToken {
  token: string;
  /** A path, `VAULT_TOKEN`, or later the login path (`auth/approle/login`). */
  origin: string;
  file?: string;
}

export interface Login {
  session: SessionToken;
  /** What Vault said about the token, when it was asked (always with `lookup`). */
  info?: TokenInfo;
}

export interface AuthMethod {
  /**
   * A token, set on `vault` (and registered for redaction). With `lookup`, Vault is asked about it too (TTL,
   * renewable: what `run` needs); without it the token-file method makes no request unless the token is
   * response-wrapped, and the command's first real request proves the token (one request less per boot).
   */
  login(vault: VaultClient, opts?: { lookup?: boolean }): Promise<Login>;
  /**
   * At each wake of `run`: a new, looked-up token when the credential changed outside the agent (a rotated
   * token file), undefined when it did not or the new one cannot be used (the current token stays set on
   * `vault`). A method that must log in again before a token's max TTL does it here.
   */
  refresh?(vault: VaultClient, current: SessionToken): Promise<Required<Login> | undefined>;
}
