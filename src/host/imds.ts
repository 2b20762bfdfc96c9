/**
 * EC2 instance metadata for `${ec2.*}` variables, IMDSv2 only: one session token (PUT), then the
 * keys in parallel with that token. Every request has a short timeout so that a machine that is not
 * on EC2 (or has IMDS disabled, or a hop limit of 1 inside a container) fails fast with a config
 * error instead of hanging the boot.
 *
 * The endpoint is `http://169.254.169.254` unless the `VPA_IMDS_ENDPOINT` environment variable (or
 * the `endpoint` option) names another one; tests point it at test/support/fake-imds.ts.
 */
import { request } from 'node:http';
import { ConfigError } from '../errors.js';
import type { Ec2Facts, Ec2Key } from '../types/host-facts.js';

export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';
const TOKEN_TTL_SECONDS = '21600';

export interface ImdsClientOptions {
  endpoint?: string;
  /** Per request; the whole `get` takes at most about twice this (token, then the keys in parallel). */
  timeoutMs?: number;
}

export interface ImdsClient {
  /** Keys that IMDS answers with 404 (e.g. `public-ipv4` without a public address) come back undefined. */
  get(keys: Ec2Key[]): Promise<Ec2Facts>;
}

interface HttpAnswer {
  status: number;
  body: string;
}

type Failure = { kind: 'timeout' } | { kind: 'network'; cause: unknown };

function send(
  url: URL,
  method: 'GET' | 'PUT',
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    // agent:false: no keep-alive socket may keep the process (or a test server) alive afterwards.
    const req = request(
      url,
      { method, headers, agent: false, signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', (cause) => reject({ kind: 'network', cause } satisfies Failure));
      },
    );
    req.on('error', (cause: Error) => {
      const timedOut = cause.name === 'AbortError' || cause.name === 'TimeoutError';
      reject((timedOut ? { kind: 'timeout' } : { kind: 'network', cause }) satisfies Failure);
    });
    req.end();
  });
}

export function createImdsClient(options: ImdsClientOptions = {}): ImdsClient {
  const endpoint = options.endpoint ?? process.env.VPA_IMDS_ENDPOINT ?? DEFAULT_IMDS_ENDPOINT;
  const timeoutMs = options.timeoutMs ?? 1000;
  const base = endpoint.replace(/\/+$/, '');

  const unusable = (keys: Ec2Key[], reason: string, cause?: unknown): ConfigError => {
    const vars = keys.map((k) => `\${ec2.${k}}`).join(', ');
    return new ConfigError(
      `${vars} needs EC2 instance metadata, but ${reason} (not running on EC2 or IMDS disabled?)`,
      { cause, details: { variables: vars, endpoint: base } },
    );
  };

  const call = async (
    keys: Ec2Key[],
    path: string,
    method: 'GET' | 'PUT',
    headers: Record<string, string>,
  ) => {
    try {
      return await send(new URL(`${base}${path}`), method, headers, timeoutMs);
    } catch (e) {
      const failure = e as Failure;
      if (failure.kind === 'timeout') throw unusable(keys, `${base} did not answer within ${timeoutMs}ms`);
      const cause = failure.cause as NodeJS.ErrnoException;
      throw unusable(keys, `${base} could not be reached (${cause.code ?? cause.message})`, cause);
    }
  };

  return {
    async get(keys) {
      if (keys.length === 0) return {};
      const tokenAnswer = await call(keys, '/latest/api/token', 'PUT', {
        'X-aws-ec2-metadata-token-ttl-seconds': TOKEN_TTL_SECONDS,
      });
      if (tokenAnswer.status !== 200 || tokenAnswer.body.length === 0) {
        throw unusable(keys, `${base} refused an IMDSv2 session token (HTTP ${tokenAnswer.status})`);
      }
      const token = tokenAnswer.body.trim();
      const unique = [...new Set(keys)];
      const answers = await Promise.all(
        unique.map((key) =>
          call([key], `/latest/meta-data/${key}`, 'GET', { 'X-aws-ec2-metadata-token': token }),
        ),
      );
      const facts: Ec2Facts = {};
      answers.forEach((answer, i) => {
        const key = unique[i] as Ec2Key;
        if (answer.status === 404) return; // the instance has no such value (e.g. no public IPv4)
        if (answer.status !== 200) {
          throw unusable([key], `${base} answered HTTP ${answer.status} for meta-data/${key}`);
        }
        facts[key] = answer.body.trim();
      });
      return facts;
    },
  };
}
