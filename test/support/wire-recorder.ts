/**
 * A recording HTTP proxy in front of OpenBao with one listener per agent, so every request is attributed
 * to the agent that sent it without looking at its token. It records status and Retry-After of every
 * answer: the wire-level truth against which the agents' own logs and "honours Retry-After" are checked.
 * Tokens and bodies are never stored (bodies only as a hash, to pair a retry with its first attempt).
 */
import { createHash } from 'node:crypto';
import { Agent, createServer, request, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface WireRecord {
  agent: number;
  method: string;
  path: string;
  bodyHash: string;
  /** performance.now() when the request arrived / just before the answer was sent back. */
  start: number;
  end: number;
  status: number;
  /** Retry-After of the answer, in seconds, when it had one. */
  retryAfterS?: number;
}

export interface WireRecorder {
  /** `http://127.0.0.1:<port>` per agent index. */
  readonly addresses: readonly string[];
  readonly records: WireRecord[];
  close(): Promise<void>;
}

export async function startWireRecorder(target: string, agents: number): Promise<WireRecorder> {
  const upstream = new URL(target);
  const keepAlive = new Agent({ keepAlive: true });
  const records: WireRecord[] = [];
  const servers: Server[] = [];
  const addresses: string[] = [];
  for (let i = 0; i < agents; i++) {
    const server = createServer((req, res) => {
      const start = performance.now();
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers = { ...req.headers, host: upstream.host };
        const up = request(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers,
            agent: keepAlive,
          },
          (upRes) => {
            const parts: Buffer[] = [];
            upRes.on('data', (c: Buffer) => parts.push(c));
            upRes.on('end', () => {
              const retryAfter = upRes.headers['retry-after'];
              // Taken before the answer goes out: a proxy descheduled right after sending must not make
              // a client's retry look early (the check below only flags retries that were surely early).
              const end = performance.now();
              res.writeHead(upRes.statusCode ?? 502, upRes.headers);
              res.end(Buffer.concat(parts));
              records.push({
                agent: i,
                method: req.method ?? '',
                path: (req.url ?? '').replace(/^\/v1\//, '').split('?')[0] ?? '',
                bodyHash: createHash('sha256').update(body).digest('hex').slice(0, 16),
                start,
                end,
                status: upRes.statusCode ?? 0,
                ...(retryAfter && /^\d+$/.test(retryAfter) ? { retryAfterS: Number(retryAfter) } : {}),
              });
            });
          },
        );
        up.on('error', () => {
          res.writeHead(502);
          res.end();
        });
        up.end(body);
      });
    });
    // Like OpenBao's listener (http_idle_timeout 5m), not Node's 5 s default: a starved agent reusing a
    // keep-alive connection the proxy had already closed would see ECONNRESET that OpenBao never causes.
    server.keepAliveTimeout = 5 * 60_000;
    // The agents of a storm arrive together: a deep accept queue instead of refused connections.
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', 1024, resolve));
    const addr = server.address();
    addresses.push(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
    servers.push(server);
  }
  return {
    addresses,
    records,
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      );
      keepAlive.destroy();
    },
  };
}

export interface RetryAfterCheck {
  /** 429 answers carrying Retry-After that the same client retried. */
  checked: number;
  /** Of those, how many said Retry-After >= 1 s. */
  nonZero: number;
  /** Smallest (waited - Retry-After) over those, ms: negative means a retry came early by that much. */
  minSlackMs: number;
  violations: { agent: number; path: string; retryAfterS: number; waitedMs: number }[];
}

/**
 * For every 429 with Retry-After R, the same agent's next attempt of the same call (same method, path
 * and body) must start at least R seconds after the 429 was sent back. The tolerance absorbs Node's
 * timer clock: libuv measures a setTimeout from the loop's cached "now", which under a storm on a
 * busy CPU lags the real time of the answer's arrival by a few milliseconds.
 */
export function checkRetryAfter(records: readonly WireRecord[], toleranceMs = 50): RetryAfterCheck {
  const calls = new Map<string, WireRecord[]>();
  for (const r of records) {
    const key = `${r.agent} ${r.method} ${r.path} ${r.bodyHash}`;
    const list = calls.get(key) ?? [];
    list.push(r);
    calls.set(key, list);
  }
  const result: RetryAfterCheck = {
    checked: 0,
    nonZero: 0,
    minSlackMs: Number.POSITIVE_INFINITY,
    violations: [],
  };
  for (const list of calls.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let k = 0; k + 1 < list.length; k++) {
      const a = list[k] as WireRecord;
      const b = list[k + 1] as WireRecord;
      if (a.status !== 429 || a.retryAfterS === undefined) continue;
      result.checked++;
      const waitedMs = b.start - a.end;
      if (a.retryAfterS >= 1) {
        result.nonZero++;
        result.minSlackMs = Math.min(result.minSlackMs, waitedMs - a.retryAfterS * 1000);
      }
      if (waitedMs < a.retryAfterS * 1000 - toleranceMs)
        result.violations.push({ agent: a.agent, path: a.path, retryAfterS: a.retryAfterS, waitedMs });
    }
  }
  return result;
}
