/**
 * FAULT-INJECTION PROXY for the fault-matrix tests (test/faults). Not a Vault imitation: every request
 * is forwarded byte for byte to a real OpenBao, except the ones a test has told it to disturb:
 *  - `status`: answer N matching requests with an HTTP error (e.g. 500) instead of forwarding them;
 *  - `hold`: keep matching requests until `release()` (to act while the agent waits for an answer,
 *    e.g. SIGKILL OpenBao or SIGTERM the agent at a known moment);
 *  - `drop`: forward, then send only the status line, headers and half of the body and reset the
 *    connection (a server dying mid-response).
 * When the upstream cannot be reached (OpenBao killed), the client's connection is reset, which is what a
 * client of a dead server sees for a request in flight.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultRule =
  | { kind: 'status'; status: number; times: number; body?: string }
  | { kind: 'hold' }
  | { kind: 'drop'; times: number };

export interface SeenRequest {
  method: string;
  path: string;
  /** What the proxy did: forwarded, or the fault it injected. */
  outcome: 'forwarded' | 'status' | 'held' | 'dropped' | 'upstream-down';
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT, to put in the agent's vault.address. */
  readonly address: string;
  /** Every request seen, in arrival order. */
  readonly seen: SeenRequest[];
  /** Disturb requests whose path matches `match` (one rule at a time; replaces the previous one). */
  inject(match: RegExp, rule: FaultRule): void;
  /** Forward everything again (held requests stay held until `release`). */
  clear(): void;
  /** Requests currently held. */
  heldCount(): number;
  waitForHeld(count: number, timeoutMs: number): Promise<void>;
  /** Forward every held request now (and stop holding new ones). */
  release(): void;
  close(): Promise<void>;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function reset(socket: Socket): void {
  // An RST, not a clean FIN: the client sees ECONNRESET like with a killed server.
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const seen: SeenRequest[] = [];
  let rule: { match: RegExp; rule: FaultRule; used: number } | undefined;
  let held: (() => void)[] = [];

  const forward = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    entry: SeenRequest,
    drop: boolean,
  ) => {
    const { connection: _c, ...headers } = { ...req.headers, host: target.host };
    const up = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
        agent: false,
      },
      (upRes) => {
        void readBody(upRes).then((data) => {
          const { 'transfer-encoding': _te, connection: _conn, ...kept } = upRes.headers;
          const outHeaders = { ...kept, 'content-length': data.length };
          if (drop) {
            entry.outcome = 'dropped';
            // Headers promise the whole body; half of it arrives, then the connection dies.
            res.writeHead(upRes.statusCode ?? 502, outHeaders);
            res.write(data.subarray(0, Math.floor(data.length / 2)));
            setTimeout(() => reset(req.socket), 20);
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, outHeaders);
          res.end(data);
        });
      },
    );
    up.on('error', () => {
      entry.outcome = 'upstream-down';
      reset(req.socket);
    });
    up.end(body);
  };

  const server = http.createServer((req, res) => {
    void readBody(req).then((body) => {
      const path = new URL(req.url ?? '/', 'http://proxy').pathname;
      const entry: SeenRequest = { method: req.method ?? 'GET', path, outcome: 'forwarded' };
      seen.push(entry);
      const active = rule?.match.test(path) ? rule : undefined;
      if (active?.rule.kind === 'status' && active.used < active.rule.times) {
        active.used++;
        entry.outcome = 'status';
        res.writeHead(active.rule.status, { 'content-type': 'application/json' });
        res.end(active.rule.body ?? JSON.stringify({ errors: ['fault injected by the test proxy'] }));
        return;
      }
      if (active?.rule.kind === 'hold') {
        entry.outcome = 'held';
        held.push(() => forward(req, res, body, entry, false));
        return;
      }
      if (active?.rule.kind === 'drop' && active.used < active.rule.times) {
        active.used++;
        forward(req, res, body, entry, true);
        return;
      }
      forward(req, res, body, entry, false);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const proxy: FaultProxy = {
    address: `http://127.0.0.1:${port}`,
    seen,
    inject(match, r) {
      rule = { match, rule: r, used: 0 };
    },
    clear() {
      rule = undefined;
    },
    heldCount: () => held.length,
    async waitForHeld(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (held.length < count) {
        if (Date.now() > deadline) throw new Error(`fault proxy: ${count} held request(s) not seen in time`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    release() {
      if (rule?.rule.kind === 'hold') rule = undefined;
      const pending = held;
      held = [];
      for (const go of pending) go();
    },
    close: async () => {
      held = [];
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
