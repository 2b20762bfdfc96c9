/**
 * The HTTP transport node-vault runs on (its `request-promise` hook). We bring our own instead of
 * node-vault's axios default because the agent needs what axios' wrapper drops: response headers
 * (`Retry-After` for rate limits, `Date` for the clock guard), a per-request timeout that covers the
 * whole exchange, keep-alive for parallel issuing, and the CA bundle from VAULT_CACERT/VAULT_CAPATH.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { ResolvedVaultSettings } from './settings.js';

export interface TransportRequest {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  json?: unknown;
  timeout?: number;
}

export interface TransportResponse {
  statusCode: number;
  body: unknown;
  headers: http.IncomingHttpHeaders;
  request: { path: string };
}

/** A request that got no HTTP answer (refused, reset, DNS, TLS, timeout). Carries no request headers. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly errno: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export type Transport = (req: TransportRequest) => Promise<TransportResponse>;

export interface TransportOptions {
  settings: ResolvedVaultSettings;
  onResponse?: (res: TransportResponse) => void;
}

export function loadCaBundle(
  settings: Pick<ResolvedVaultSettings, 'caCertFile' | 'caPath'>,
): string[] | undefined {
  const pems: string[] = [];
  if (settings.caCertFile) {
    try {
      pems.push(readFileSync(settings.caCertFile, 'utf8'));
    } catch (e) {
      throw new ConfigError(
        `cannot read the Vault CA certificate ${settings.caCertFile} (vault.caCert / VAULT_CACERT): ${(e as Error).message}`,
      );
    }
  }
  if (settings.caPath) {
    try {
      for (const name of readdirSync(settings.caPath)) {
        if (/\.(pem|crt)$/.test(name)) pems.push(readFileSync(join(settings.caPath, name), 'utf8'));
      }
    } catch (e) {
      throw new ConfigError(
        `cannot read the Vault CA directory ${settings.caPath} (VAULT_CAPATH): ${(e as Error).message}`,
      );
    }
  }
  return pems.length > 0 ? pems : undefined;
}

export function createTransport({ settings, onResponse }: TransportOptions): Transport {
  const ca = loadCaBundle(settings);
  const isHttps = settings.address.startsWith('https:');
  // node:https (and Node's TLS stack under it, ~2 ms) is loaded on the first request to an https:// Vault.
  let client: Promise<{ lib: Pick<typeof http, 'request'>; agent: http.Agent }> | undefined;
  const connection = () =>
    (client ??= isHttps
      ? import('node:https').then((https) => ({
          lib: https,
          agent: new https.Agent({
            keepAlive: true,
            maxSockets: 16,
            ca,
            rejectUnauthorized: !settings.skipVerify,
          }),
        }))
      : Promise.resolve({ lib: http, agent: new http.Agent({ keepAlive: true, maxSockets: 16 }) }));

  return async (req) => {
    const { lib, agent } = await connection();
    return new Promise<TransportResponse>((resolve, reject) => {
      const url = new URL(req.uri);
      const payload = req.json === undefined ? undefined : Buffer.from(JSON.stringify(req.json));
      const headers: Record<string, string | number> = { ...req.headers, Accept: 'application/json' };
      if (payload) {
        headers['Content-Type'] = headers['Content-Type'] ?? 'application/json';
        headers['Content-Length'] = payload.length;
      }
      const timeoutMs = req.timeout ?? settings.requestTimeoutMs;
      const request = lib.request(url, { method: req.method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => fail(e));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if (text && /json/.test(String(res.headers['content-type'] ?? ''))) {
            try {
              body = JSON.parse(text);
            } catch {
              body = text;
            }
          }
          const out: TransportResponse = {
            statusCode: res.statusCode ?? 0,
            body: text === '' ? undefined : body,
            headers: res.headers,
            request: { path: url.pathname },
          };
          onResponse?.(out);
          resolve(out);
        });
      });
      const fail = (e: Error & { code?: string }) => {
        clearTimeout(timer);
        reject(new TransportError(e.message, e.code ?? 'EUNKNOWN', url.pathname));
      };
      const timer = setTimeout(() => {
        request.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      request.on('error', fail);
      if (payload) request.write(payload);
      request.end();
    });
  };
}
