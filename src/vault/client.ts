/**
 * The VaultClient port's one implementation, over our own transport: the exchange (addresses, redirects, typed
 * errors, retries, counting; exchange.ts), the PKI and token operations (pki-ops.ts, token-ops.ts), and the
 * generic read/write/list/delete the operators' commands use. Answers are validated (answers.ts).
 */

import { AgentError } from '../errors.js';
import { registerSecret } from '../log.js';
import { sectionOf, warningsOf } from './answers.js';
import { createExchange, type VaultClientOptions } from './exchange.js';
import { pkiOperations } from './pki-ops.js';
import { textOf } from './requests.js';
import { tokenOperations } from './token-ops.js';
import type { VaultClient } from './vault-client.js';

export type { VaultClientOptions } from './exchange.js';

export function createVaultClient(options: VaultClientOptions): VaultClient {
  const { call, stats, setToken, clockSkewMs } = createExchange(options);
  return {
    address: options.settings.address,
    stats,
    setToken,
    clockSkewMs,
    ...tokenOperations(call),
    ...pkiOperations(call, options.log),

    async readRole(mount, role) {
      const result = await this.read(`${mount}/roles/${role}`);
      return result?.data;
    },

    async read(path) {
      try {
        const res = await call('GET', path);
        const body = res.body as { data?: unknown } | undefined;
        return { data: sectionOf(body?.data, path) ?? {}, warnings: warningsOf(body) };
      } catch (error) {
        if (AgentError.is(error) && error.details.status === 404) return undefined;
        throw error;
      }
    },

    async write(path, body, opts = {}) {
      const headers = opts.wrapTtl ? { 'X-Vault-Wrap-TTL': opts.wrapTtl } : undefined;
      const res = await call('POST', path, { body, headers });
      const b = (res.body ?? {}) as { data?: unknown; auth?: unknown; wrap_info?: unknown };
      const auth = sectionOf(b.auth, path);
      const wrapInfo = sectionOf(b.wrap_info, path);
      if (typeof auth?.client_token === 'string') registerSecret(auth.client_token);
      if (typeof wrapInfo?.token === 'string') registerSecret(wrapInfo.token);
      return { data: sectionOf(b.data, path) ?? {}, warnings: warningsOf(b), auth, wrapInfo };
    },

    async list(path) {
      try {
        const res = await call('GET', `${path}?list=true`);
        const keys = (res.body as { data?: { keys?: unknown } })?.data?.keys;
        return Array.isArray(keys) ? keys.map(textOf) : [];
      } catch (error) {
        if (AgentError.is(error) && error.details.status === 404) return [];
        throw error;
      }
    },

    async delete(path) {
      await call('DELETE', path);
    },
  };
}
