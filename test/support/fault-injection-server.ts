/**
 * A fault-injection HTTP server for fuzzing the Vault client: on 127.0.0.1, it answers every request
 * with whatever the test set last (status, headers, raw body bytes) or misbehaves on purpose (resets
 * the connection, stalls, sends half a body). It is a fuzzing harness, not a Vault imitation: it
 * knows nothing about Vault's API and records only what it was asked.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  /** A normal HTTP answer with these bytes. */
  | { kind: 'answer'; status: number; headers: Record<string, string>; body: string | Buffer }
  /** Close the TCP connection without answering. */
  | { kind: 'reset' }
  /** Accept the request and never answer. */
  | { kind: 'stall' }
  /** Send the headers (announcing 100 bytes more than `body`) and `body`, then stall or close. */
  | { kind: 'partial'; status: number; body: string; after: 'stall' | 'close' };

export interface FaultInjectionServer {
  readonly address: string;
  /** What the next requests get, until set again. */
  set(fault: Fault): void;
  /** Request paths received since the last `set`. */
  requests(): string[];
  close(): Promise<void>;
}

export async function startFaultInjectionServer(): Promise<FaultInjectionServer> {
  let fault: Fault = { kind: 'answer', status: 200, headers: {}, body: '' };
  let seen: string[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    seen.push(new URL(req.url ?? '/', 'http://x').pathname);
    req.resume();
    const f = fault;
    switch (f.kind) {
      case 'answer':
        try {
          res.writeHead(f.status, { 'content-length': Buffer.byteLength(f.body), ...f.headers });
          res.end(f.body);
        } catch {
          // A header Node refuses to send: the client sees a reset, which is a fault too.
          req.socket.destroy();
        }
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'stall':
        return;
      case 'partial':
        res.writeHead(f.status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(f.body) + 100,
        });
        res.write(f.body);
        if (f.after === 'close') setTimeout(() => req.socket.destroy(), 5);
        return;
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    set(next) {
      fault = next;
      seen = [];
    },
    requests: () => seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
