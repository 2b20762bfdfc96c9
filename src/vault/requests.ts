/**
 * A Vault API request as our transport sends it: `<address>/v1/<path>`, the token and namespace headers, and a
 * non-2xx answer turned into an HttpFailureError carrying what the error mapping and the retry loop need
 * (Vault's `errors`, `Retry-After`, a redirect's `Location`). This is all node-vault did for the agent once it
 * ran on our transport (see docs/ARCHITECTURE.md, deviations).
 */
import { type HttpFailure, parseRetryAfter } from './map-error.js';
import type { TransportRequest, TransportResponse } from './transport.js';

export interface RequestOptions {
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export interface RequestTarget {
  address: string;
  namespace?: string;
  token: string;
}

export function vaultRequest(
  target: RequestTarget,
  method: string,
  path: string,
  o: RequestOptions,
  deadline: number,
): TransportRequest {
  const headers: Record<string, string> = { ...o.headers };
  if (target.token && !headers['X-Vault-Token']) headers['X-Vault-Token'] = target.token;
  if (target.namespace) headers['X-Vault-Namespace'] = target.namespace;
  return {
    method,
    uri: `${target.address.replace(/\/+$/, '')}/v1/${path}`,
    headers,
    json: o.body,
    deadline,
  };
}

export class HttpFailureError extends Error {
  constructor(readonly failure: HttpFailure) {
    super(`HTTP ${failure.status}`);
  }
}

/** A JSON value as text for messages and lists. String() throws on `{"toString": 1}`; this does not. */
export function textOf(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

/** The answer when it is a success (2xx); otherwise an HttpFailureError. */
export function successOf(res: TransportResponse, now: number): TransportResponse {
  if (res.statusCode >= 200 && res.statusCode < 300) return res;
  const body = res.body as { errors?: unknown } | undefined;
  const errors = Array.isArray(body?.errors)
    ? body.errors.map(textOf)
    : typeof body === 'string'
      ? [body]
      : [];
  throw new HttpFailureError({
    status: res.statusCode,
    errors,
    path: res.request.path.replace(/^\/v1\//, ''),
    retryAfterMs: parseRetryAfter(res.headers['retry-after'], now),
    location: typeof res.headers.location === 'string' ? res.headers.location : undefined,
  });
}
