/**
 * The HTTP transport the Vault client runs on (exchange.ts). Our own, on node:http, because the agent needs
 * what a generic client's wrapper drops: response headers (`Retry-After` for rate limits, `Date` for the clock
 * guard), a per-request timeout that covers the whole exchange, keep-alive for parallel issuing, and the CA
 * bundle from VAULT_CACERT/VAULT_CAPATH.
 */
import { readdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { readSmallFile } from '../util/small-file.js';
import type { ResolvedVaultSettings } from './settings.js';

export interface TransportRequest {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  json?: unknown;
  timeout?: number;
  /**
   * When the command's budget (--timeout) ends, ms since the epoch: a request still in flight then is cut
   * (the socket destroyed), whatever it is waiting for (a connection, the headers, the rest of the body).
   */
  deadline?: number;
}

export interface TransportResponse {
  statusCode: number;
  body: unknown;
  headers: http.IncomingHttpHeaders;
  request: { path: string };
}

/**
 * The largest answer the agent reads from Vault. Real answers are small: a `sign` answer with its chain is a
 * few KB, a CA bundle or a list of roles tens of KB. 4 MiB is generous for all of them and keeps a hostile or
 * broken server (or a wrong address) from making the agent buffer gigabytes.
 */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * A request that got no usable HTTP answer (refused, reset, DNS, TLS, timeout, cut at the deadline, an answer
 * too large). Carries no request headers. errno: Node's code, or ETIMEDOUT (per-request timeout), EDEADLINE
 * (cut at the command's deadline), ETOOLARGE (answer over MAX_RESPONSE_BYTES).
 */
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
  /** Largest answer read (default MAX_RESPONSE_BYTES); a larger one is refused before it is buffered. */
  maxResponseBytes?: number;
  now?: () => number;
}

/**
 * A request started at or after its deadline (the retry loop's last attempt is made at the deadline itself)
 * still gets this long, so that the last attempt can succeed; no request outlives the deadline by more.
 */
const LAST_ATTEMPT_GRACE_MS = 1_000;

function mib(bytes: number): string {
  return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;
}

/** A CA bundle is a few KB (a system bundle ~200 KB); a FIFO or device at the path is refused, not read. */
const MAX_CA_FILE_BYTES = 1024 * 1024;

const readCa = (path: string) => readSmallFile(path, MAX_CA_FILE_BYTES).data.toString('utf8');

function loadCaBundle(settings: Pick<ResolvedVaultSettings, 'caCertFile' | 'caPath'>): string[] | undefined {
  const pems: string[] = [];
  if (settings.caCertFile) {
    try {
      pems.push(readCa(settings.caCertFile));
    } catch (e) {
      throw new ConfigError(
        `cannot read the Vault CA certificate ${settings.caCertFile} (vault.caCert / VAULT_CACERT): ${(e as Error).message}`,
      );
    }
  }
  if (settings.caPath) {
    try {
      for (const name of readdirSync(settings.caPath)) {
        if (/\.(pem|crt)$/.test(name)) pems.push(readCa(join(settings.caPath, name)));
      }
    } catch (e) {
      throw new ConfigError(
        `cannot read the Vault CA directory ${settings.caPath} (VAULT_CAPATH): ${(e as Error).message}`,
      );
    }
  }
  return pems.length > 0 ? pems : undefined;
}

export function createTransport({
  settings,
  onResponse,
  maxResponseBytes = MAX_RESPONSE_BYTES,
  now = Date.now,
}: TransportOptions): Transport {
  const ca = loadCaBundle(settings);
  type Connection = { lib: Pick<typeof http, 'request'>; agent: http.Agent };
  // node:https (and Node's TLS stack under it, ~2 ms) is loaded on the first request to an https:// Vault.
  // One connection pool per scheme: a list of addresses may mix them.
  let httpsClient: Promise<Connection> | undefined;
  let httpClient: Promise<Connection> | undefined;
  const connection = (protocol: string): Promise<Connection> => {
    if (protocol !== 'https:') {
      httpClient ??= Promise.resolve({
        lib: http,
        agent: new http.Agent({ keepAlive: true, maxSockets: 16 }),
      });
      return httpClient;
    }
    httpsClient ??= import('node:https').then((https) => ({
      lib: https,
      agent: new https.Agent({
        keepAlive: true,
        maxSockets: 16,
        ca,
        rejectUnauthorized: !settings.skipVerify,
      }),
    }));
    return httpsClient;
  };

  return async (req) => {
    const url = new URL(req.uri);
    const { lib, agent } = await connection(url.protocol);
    return new Promise<TransportResponse>((resolve, reject) => {
      const payload = req.json === undefined ? undefined : Buffer.from(JSON.stringify(req.json));
      const headers: Record<string, string | number> = { ...req.headers, Accept: 'application/json' };
      if (payload) {
        headers['Content-Type'] = headers['Content-Type'] ?? 'application/json';
        headers['Content-Length'] = payload.length;
      }
      const requestTimeoutMs = req.timeout ?? settings.requestTimeoutMs;
      const leftMs = req.deadline === undefined ? Number.POSITIVE_INFINITY : req.deadline - now();
      const byDeadline = leftMs < requestTimeoutMs;
      const timeoutMs = byDeadline
        ? Math.min(requestTimeoutMs, Math.max(leftMs, LAST_ATTEMPT_GRACE_MS))
        : requestTimeoutMs;
      let settled = false;
      const fail = (e: Error & { code?: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new TransportError(e.message, e.code ?? 'EUNKNOWN', url.pathname));
      };
      /** Stop reading: the socket is destroyed, so nothing more is received or buffered. */
      const cut = (message: string, code: string) => {
        const error = Object.assign(new Error(message), { code });
        fail(error);
        request.destroy(error);
      };
      const request = lib.request(url, { method: req.method, headers, agent }, (res) => {
        const announced = Number(res.headers['content-length']);
        if (Number.isFinite(announced) && announced > maxResponseBytes) {
          cut(
            `the answer announces ${announced} bytes (${mib(announced)}), more than the ${mib(maxResponseBytes)} any Vault answer needs`,
            'ETOOLARGE',
          );
          return;
        }
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (c: Buffer) => {
          if (settled) return;
          received += c.length;
          if (received > maxResponseBytes) {
            chunks.length = 0;
            cut(
              `the answer is larger than the ${mib(maxResponseBytes)} any Vault answer needs (stopped reading after ${received} bytes)`,
              'ETOOLARGE',
            );
            return;
          }
          chunks.push(c);
        });
        res.on('error', (e) => fail(e));
        res.on('end', () => {
          if (settled) return;
          settled = true;
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
      const timer = setTimeout(() => {
        if (byDeadline) cut(`no complete answer before the deadline (--timeout)`, 'EDEADLINE');
        else cut(`no answer within ${timeoutMs} ms`, 'ETIMEDOUT');
      }, timeoutMs);
      request.on('error', fail);
      if (payload) request.write(payload);
      request.end();
    });
  };
}
