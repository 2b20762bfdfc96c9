/** The token operations of the VaultClient port: look up and renew the agent's own token, unwrap a wrapped one. */
import { AgentError, WrappingError } from '../errors.js';
import { registerSecret } from '../log.js';
import { authBlockOf, tokenInfoOf } from './answers.js';
import type { Call } from './exchange.js';
import { textOf } from './requests.js';
import type { TransportResponse } from './transport.js';
import type { VaultClient } from './vault-client.js';

export function tokenOperations(call: Call): Pick<VaultClient, 'lookupSelf' | 'renewSelf' | 'unwrapToken'> {
  return {
    async lookupSelf() {
      const res = await call('GET', 'auth/token/lookup-self');
      return tokenInfoOf(res.body, 'auth/token/lookup-self');
    },

    async renewSelf(incrementSeconds?: number) {
      const body = incrementSeconds ? { increment: `${incrementSeconds}s` } : {};
      const res = await call('POST', 'auth/token/renew-self', { body });
      const a = authBlockOf(res.body, 'auth/token/renew-self');
      return { leaseDurationSeconds: a.lease_duration, renewable: a.renewable, policies: a.policies ?? [] };
    },

    async unwrapToken(wrappingToken, allowedCreationPaths) {
      registerSecret(wrappingToken);
      let lookup: TransportResponse;
      try {
        lookup = await call('POST', 'sys/wrapping/lookup', { body: { token: wrappingToken } });
      } catch (error) {
        if (AgentError.is(error) && error.code === 'vault-bad-request') {
          throw new WrappingError(
            'wrapping-token-invalid',
            'response-wrapped token already used or expired — possible interception: do not trust this token, ' +
              'find out who unwrapped it, and create a new one (token create --wrap-ttl)',
            { cause: error },
          );
        }
        throw error;
      }
      const creationPath = textOf(
        (lookup.body as { data?: { creation_path?: unknown } })?.data?.creation_path ?? '',
      );
      if (!allowedCreationPaths(creationPath)) {
        throw new WrappingError(
          'wrapping-path-mismatch',
          `response-wrapped token was created by "${creationPath}", not by a token-creating path: refusing to unwrap it`,
        );
      }
      // No retry: a lost answer to an unwrap cannot be asked for again (the wrapping token is single-use).
      let res: TransportResponse;
      try {
        res = await call('POST', 'sys/wrapping/unwrap', {
          headers: { 'X-Vault-Token': wrappingToken },
          retry: false,
        });
      } catch (error) {
        if (AgentError.is(error) && (error.code === 'vault-bad-request' || error.code === 'token-invalid')) {
          throw new WrappingError(
            'wrapping-token-invalid',
            'response-wrapped token already used or expired — possible interception: create a new one',
            { cause: error },
          );
        }
        throw error;
      }
      const auth = authBlockOf(res.body, 'sys/wrapping/unwrap');
      registerSecret(auth.client_token);
      return auth.client_token;
    },
  };
}
