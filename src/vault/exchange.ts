/**
 * One Vault exchange as the client's operations see it: `call(method, path)` sends the request to the current
 * address (endpoints.ts), follows a standby's redirect only to a listed address, moves to the next address on a
 * failure another node may not share, turns what went wrong into a typed AgentError, and retries with backoff
 * under the command's deadline (retry.ts). It also counts requests per path and keeps the clock skew Vault's
 * `Date` header shows.
 */
import { AgentError } from '../errors.js';
import { type Logger, registerSecret } from '../log.js';
import { EndpointPool, failsOver } from './endpoints.js';
import {
  type HttpFailure,
  mapHttpFailure,
  mapTransportError,
  permissionDeniedError,
  tokenInvalidError,
} from './map-error.js';
import { HttpFailureError, type RequestOptions, successOf, vaultRequest } from './requests.js';
import { DEFAULT_BACKOFF, withRetry } from './retry.js';
import type { ResolvedVaultSettings } from './settings.js';
import { createTransport, TransportError, type TransportResponse } from './transport.js';
import type { RequestContext, VaultStats } from './vault-client.js';

export interface VaultClientOptions {
  settings: ResolvedVaultSettings;
  token?: string;
  /** How long one operation may keep retrying, in ms (SPEC: --timeout, default 5m at boot). */
  timeoutMs?: number;
  /**
   * When retrying stops for every call, as an absolute time (ms since the epoch): one budget for a whole
   * command or pass, however many requests it makes. Without it each call retries for `timeoutMs`.
   */
  deadline?: () => number;
  log?: Logger;
  backoff?: { baseMs: number; capMs: number };
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface CallOptions extends RequestOptions {
  ctx?: RequestContext;
  retry?: boolean;
}

export type Call = (method: string, path: string, o?: CallOptions) => Promise<TransportResponse>;

export interface Exchange {
  call: Call;
  stats: VaultStats;
  setToken(token: string): void;
  clockSkewMs(): number | undefined;
}

export function createExchange(options: VaultClientOptions): Exchange {
  const { settings } = options;
  const now = options.now ?? Date.now;
  const stats: VaultStats = { requests: new Map(), retries: 0 };
  let skewMs: number | undefined;
  let token = options.token ?? '';
  if (token) registerSecret(token);

  const transport = createTransport({
    settings,
    now,
    onResponse: (res: TransportResponse) => {
      const date = res.headers.date ? Date.parse(res.headers.date) : Number.NaN;
      // The Date header has 1 s resolution: only differences beyond that mean anything.
      if (!Number.isNaN(date)) skewMs = now() - date;
    },
  });
  const request = async (
    address: string,
    method: string,
    path: string,
    o: RequestOptions,
    deadline: number,
  ): Promise<TransportResponse> => {
    const req = vaultRequest({ address, namespace: settings.namespace, token }, method, path, o, deadline);
    const counted = new URL(req.uri).pathname;
    stats.requests.set(counted, (stats.requests.get(counted) ?? 0) + 1);
    return successOf(await transport(req), now());
  };

  const pool = new EndpointPool(settings.addresses ?? [settings.address]);
  let lastServed: string | undefined;
  const deadlineOf = () => options.deadline?.() ?? now() + (options.timeoutMs ?? 5 * 60_000);

  const redirectTarget = (f: HttpFailure, from: string): string | undefined => {
    if ((f.status !== 307 && f.status !== 308) || !f.location) return undefined;
    let url: string;
    try {
      url = new URL(f.location, from).href;
    } catch {
      return undefined;
    }
    return pool.configuredOrigin(url);
  };

  const toAgentError = async (
    error: unknown,
    path: string,
    ctx: RequestContext | undefined,
    deadline: number,
    address: string,
  ): Promise<AgentError> => {
    if (AgentError.is(error)) return error;
    if (error instanceof TransportError) return mapTransportError(error.errno, error.message, address, path);
    if (error instanceof HttpFailureError) {
      const f = error.failure;
      if (f.status !== 403) return mapHttpFailure(f, address, ctx);
      if (f.errors.some((e) => /invalid token/i.test(e))) return tokenInvalidError(f.path);
      // Before Vault 1.17 a dead token and a missing policy look alike: ask about the token itself.
      try {
        const res = await request(address, 'GET', 'auth/token/lookup-self', {}, deadline);
        const info = res.body as { data?: { policies?: string[] } };
        return permissionDeniedError(f.path, info.data?.policies ?? []);
      } catch (lookupError) {
        if (lookupError instanceof HttpFailureError && lookupError.failure.status === 403) {
          return tokenInvalidError(f.path);
        }
        return permissionDeniedError(f.path, []);
      }
    }
    return new AgentError(
      'internal',
      1,
      `unexpected failure calling Vault ${path}: ${(error as Error)?.message}`,
      {
        cause: error,
      },
    );
  };

  /**
   * One request; still in flight at `deadline`, it is cut (transport.ts). With several addresses, a failure
   * that another node may not share moves on to the next address at once (endpoints.ts); the retry loop
   * around this backs off only once every address has failed since the last success.
   */
  const send = async (
    method: string,
    path: string,
    o: CallOptions,
    deadline: number,
  ): Promise<TransportResponse> => {
    for (let redirects = 0; ; ) {
      const address = pool.current;
      try {
        const res = await request(address, method, path, o, deadline);
        pool.succeeded(address);
        if (address !== lastServed && pool.addresses.length > 1) {
          options.log?.info('vault address serving', {
            address,
            ...(lastServed ? { previous: lastServed } : {}),
          });
        }
        lastServed = address;
        return res;
      } catch (error) {
        // A standby's redirect is followed only to an address in the list (the token goes nowhere else), and
        // not to one that failed moments ago (a standby still naming the dead active node during an election).
        const location =
          error instanceof HttpFailureError ? redirectTarget(error.failure, address) : undefined;
        if (location && !pool.failedRecently(location) && redirects++ < pool.addresses.length) {
          pool.prefer(location);
          options.log?.info('vault redirected to a configured address', {
            from: address,
            to: location,
            path,
          });
          continue;
        }
        if (location && error instanceof HttpFailureError) {
          error.failure.redirectNote = `${location} is listed but failed moments ago (an election in progress?)`;
        }
        const agentError = await toAgentError(error, path, o.ctx, deadline, address);
        if (
          pool.addresses.length > 1 &&
          failsOver(agentError) &&
          pool.failover(address) &&
          now() < deadline
        ) {
          options.log?.warn('vault address failed, trying the next', {
            failed: address,
            next: pool.current,
            path,
            error: agentError.message,
          });
          continue;
        }
        throw agentError;
      }
    }
  };

  const call: Call = async (method, path, o = {}) => {
    const deadline = deadlineOf();
    if (o.retry === false) return send(method, path, o, deadline);
    return withRetry(
      () => send(method, path, o, deadline),
      { ...(options.backoff ?? DEFAULT_BACKOFF), deadline },
      {
        now,
        sleep: options.sleep,
        random: options.random,
        onRetry: ({ attempt, delayMs, error }) => {
          stats.retries++;
          options.log?.warn('vault request failed, retrying', {
            path,
            attempt,
            delay_ms: delayMs,
            error: error.message,
          });
        },
      },
    );
  };

  return {
    call,
    stats,
    setToken(next) {
      registerSecret(next);
      token = next;
    },
    clockSkewMs: () => skewMs,
  };
}
