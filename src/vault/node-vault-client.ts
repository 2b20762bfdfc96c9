/**
 * VaultClient on node-vault. node-vault builds paths and the token/namespace headers; this adapter adds
 * what the agent needs around it: our transport (headers, timeouts, CA), typed errors, retries with
 * backoff under a deadline, validation of Vault's answers, and request counting.
 */

import nodeVault from 'node-vault';
import { AgentError, VaultUnavailableError, WrappingError } from '../errors.js';
import { type Logger, registerSecret } from '../log.js';
import { splitPemBundle } from '../pki/pem.js';
import * as z from '../util/zod.js';
import { EndpointPool, failsOver } from './endpoints.js';
import {
  type HttpFailure,
  mapHttpFailure,
  mapTransportError,
  parseRetryAfter,
  permissionDeniedError,
  tokenInvalidError,
} from './map-error.js';
import { DEFAULT_BACKOFF, withRetry } from './retry.js';
import type { ResolvedVaultSettings } from './settings.js';
import {
  createTransport,
  TransportError,
  type TransportRequest,
  type TransportResponse,
} from './transport.js';
import type {
  CertificateAnswer,
  CertificateRequest,
  RenewResult,
  RequestContext,
  TokenInfo,
  VaultClient,
  VaultResult,
  VaultStats,
} from './vault-client.js';

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

class HttpFailureError extends Error {
  constructor(readonly failure: HttpFailure) {
    super(`HTTP ${failure.status}`);
  }
}

const certificateData = z.object({
  certificate: z.string().check(z.minLength(1)),
  issuing_ca: z._default(z.string(), ''),
  ca_chain: z.nullish(z.array(z.string())),
  private_key: z.optional(z.string()),
  private_key_type: z.optional(z.string()),
  serial_number: z.string(),
  // A string of 400 digits is a number too: Infinity, which the pipe refuses.
  expiration: z.union([
    z.number(),
    z.pipe(z.pipe(z.string().check(z.regex(/^\d+$/)), z.transform(Number)), z.number()),
  ]),
});

const tokenData = z.object({
  accessor: z.optional(z.string()),
  display_name: z.optional(z.string()),
  policies: z.nullish(z.array(z.string())),
  ttl: z.number(),
  renewable: z.optional(z.boolean()),
  period: z.optional(z.number()),
  explicit_max_ttl: z.optional(z.number()),
  num_uses: z.optional(z.number()),
  orphan: z.optional(z.boolean()),
  expire_time: z.nullish(z.string()),
  path: z.optional(z.string()),
});

const authBlock = z.object({
  // A token goes into an HTTP header: printable ASCII only (anything else would fail every later request).
  client_token: z.string().check(z.regex(/^[\x21-\x7e]+$/, 'is not a token (empty, or not printable ASCII)')),
  lease_duration: z.number(),
  renewable: z.boolean(),
  policies: z.nullish(z.array(z.string())),
});

function parseAnswer<T>(schema: z.ZodMiniType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VaultUnavailableError(
      'vault-bad-response',
      `Vault's answer to ${what} is not what Vault sends: ${issue?.path.join('.') || '(body)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

/** A JSON value as text for messages and lists. String() throws on `{"toString": 1}`; this does not. */
function textOf(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

/** Vault's `data`/`auth`/`wrap_info` sections are JSON objects; anything else is not Vault talking. */
function sectionOf(value: unknown, what: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new VaultUnavailableError('vault-bad-response', `Vault's answer to ${what} has a malformed section`);
}

function warningsOf(body: unknown): string[] {
  const w = (body as { warnings?: unknown } | undefined)?.warnings;
  return Array.isArray(w) ? w.filter((x): x is string => typeof x === 'string') : [];
}

export function createVaultClient(options: VaultClientOptions): VaultClient {
  const { settings } = options;
  const now = options.now ?? Date.now;
  const stats: VaultStats = { requests: new Map(), retries: 0 };
  let skewMs: number | undefined;

  const transport = createTransport({
    settings,
    now,
    onResponse: (res: TransportResponse) => {
      const date = res.headers.date ? Date.parse(res.headers.date) : Number.NaN;
      // The Date header has 1 s resolution: only differences beyond that mean anything.
      if (!Number.isNaN(date)) skewMs = now() - date;
    },
  });
  const counting = (req: TransportRequest) => {
    const path = new URL(req.uri).pathname;
    stats.requests.set(path, (stats.requests.get(path) ?? 0) + 1);
    return transport(req);
  };

  const pool = new EndpointPool(settings.addresses ?? [settings.address]);
  let lastServed: string | undefined;
  const nv = nodeVault({
    endpoint: settings.address,
    namespace: settings.namespace,
    noCustomHTTPVerbs: true,
    'request-promise': { defaults: () => counting },
  });
  nv.token = options.token ?? '';
  if (options.token) registerSecret(options.token);
  (
    nv as unknown as { handleVaultResponse: (r: TransportResponse) => Promise<TransportResponse> }
  ).handleVaultResponse = (res) => {
    if (res.statusCode >= 200 && res.statusCode < 300) return Promise.resolve(res);
    const body = res.body as { errors?: unknown } | undefined;
    const errors = Array.isArray(body?.errors)
      ? body.errors.map(textOf)
      : typeof body === 'string'
        ? [body]
        : [];
    return Promise.reject(
      new HttpFailureError({
        status: res.statusCode,
        errors,
        path: res.request.path.replace(/^\/v1\//, ''),
        retryAfterMs: parseRetryAfter(res.headers['retry-after'], now()),
        location: typeof res.headers.location === 'string' ? res.headers.location : undefined,
      }),
    );
  };

  interface CallOptions {
    body?: Record<string, unknown>;
    headers?: Record<string, string>;
    ctx?: RequestContext;
    retry?: boolean;
  }

  const deadlineOf = () => options.deadline?.() ?? now() + (options.timeoutMs ?? 5 * 60_000);

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
        // node-vault builds the request URI from its endpoint synchronously, inside this call.
        nv.endpoint = address;
        const res = (await nv.request({
          path: `/${path}`,
          method,
          json: o.body,
          headers: o.headers ? { ...o.headers } : undefined,
          deadline,
        })) as TransportResponse;
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
        const res = await nv.request({ path: '/auth/token/lookup-self', method: 'GET', deadline });
        const info = (res as TransportResponse).body as { data?: { policies?: string[] } };
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

  const call = async (method: string, path: string, o: CallOptions = {}): Promise<TransportResponse> => {
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

  const certificateCall = async (
    path: string,
    body: Record<string, unknown>,
    ctx?: RequestContext,
  ): Promise<VaultResult<CertificateAnswer>> => {
    const res = await call('POST', path, { body, ctx });
    const raw = res.body as { data?: unknown };
    const d = parseAnswer(certificateData, raw?.data, path);
    const warnings = warningsOf(res.body);
    for (const w of warnings)
      options.log?.warn('vault warning', { path, certificate: ctx?.certName, warning: w });
    return {
      data: {
        certificate: d.certificate,
        issuingCa: d.issuing_ca,
        caChain: d.ca_chain ?? [],
        privateKey: d.private_key,
        privateKeyType: d.private_key_type,
        serialNumber: d.serial_number,
        expiration: d.expiration,
      },
      warnings,
    };
  };

  const certBody = (req: CertificateRequest): Record<string, unknown> => {
    const body: Record<string, unknown> = { common_name: req.commonName, format: 'pem' };
    if (req.altNames?.length) body.alt_names = req.altNames.join(',');
    if (req.ipSans?.length) body.ip_sans = req.ipSans.join(',');
    if (req.ttl !== undefined) body.ttl = typeof req.ttl === 'number' ? `${req.ttl}s` : req.ttl;
    if (req.excludeCnFromSans !== undefined) body.exclude_cn_from_sans = req.excludeCnFromSans;
    if (req.keyType) body.key_type = req.keyType;
    if (req.keyBits) body.key_bits = req.keyBits;
    return body;
  };

  return {
    address: settings.address,
    stats,
    setToken(token) {
      registerSecret(token);
      nv.token = token;
    },
    clockSkewMs: () => skewMs,

    async lookupSelf(): Promise<TokenInfo> {
      const res = await call('GET', 'auth/token/lookup-self');
      const d = parseAnswer(tokenData, (res.body as { data?: unknown })?.data, 'auth/token/lookup-self');
      return {
        accessor: d.accessor,
        displayName: d.display_name,
        policies: d.policies ?? [],
        ttlSeconds: d.ttl,
        renewable: d.renewable ?? false,
        periodSeconds: d.period,
        explicitMaxTtlSeconds: d.explicit_max_ttl ?? 0,
        numUses: d.num_uses ?? 0,
        orphan: d.orphan ?? false,
        expireTime: d.expire_time ?? undefined,
        creationPath: d.path,
      };
    },

    async renewSelf(incrementSeconds?: number): Promise<RenewResult> {
      const body = incrementSeconds ? { increment: `${incrementSeconds}s` } : {};
      const res = await call('POST', 'auth/token/renew-self', { body });
      const a = parseAnswer(authBlock, (res.body as { auth?: unknown })?.auth, 'auth/token/renew-self');
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
      const auth = parseAnswer(authBlock, (res.body as { auth?: unknown })?.auth, 'sys/wrapping/unwrap');
      registerSecret(auth.client_token);
      return auth.client_token;
    },

    issue: (mount, role, req, ctx) => certificateCall(`${mount}/issue/${role}`, certBody(req), ctx),
    // The CN and SANs travel in the CSR (roles default to use_csr_common_name/use_csr_sans); repeating them
    // in the body only earns two warnings per certificate.
    sign: (mount, role, csr, req, ctx) => {
      const body: Record<string, unknown> = { csr, format: 'pem' };
      if (req.ttl !== undefined) body.ttl = typeof req.ttl === 'number' ? `${req.ttl}s` : req.ttl;
      return certificateCall(`${mount}/sign/${role}`, body, ctx);
    },

    async readCaChain(mount) {
      const res = await call('GET', `${mount}/cert/ca_chain`);
      const data = (res.body as { data?: { ca_chain?: unknown; certificate?: unknown } })?.data;
      const text =
        typeof data?.ca_chain === 'string' && data.ca_chain
          ? data.ca_chain
          : typeof data?.certificate === 'string'
            ? data.certificate
            : '';
      if (text.trim() === '') {
        throw new VaultUnavailableError(
          'vault-bad-response',
          `mount ${mount} has no CA certificate (not provisioned?)`,
        );
      }
      // Parsed here, so that a malformed CA is Vault's bad answer (retryable), not a local write failure.
      try {
        return splitPemBundle(text, `${mount}/cert/ca_chain`);
      } catch (error) {
        throw new VaultUnavailableError('vault-bad-response', `Vault's answer ${(error as Error).message}`, {
          cause: error,
          retryable: true,
        });
      }
    },

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
