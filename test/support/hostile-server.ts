/**
 * A HOSTILE "Vault" on 127.0.0.1 for the hostile-input tests: a raw TCP server (so it can stop in the middle
 * of the headers) that answers every request the way the test set last:
 *  - `huge`: a 200 JSON answer streamed without end (up to `limitBytes`), with or without a Content-Length
 *    announcing it; it counts the bytes the client accepted before it closed the connection;
 *  - `stall-headers`: the status line and half the headers, then nothing (the socket stays open);
 *  - `stall-body`: full headers announcing 1000 bytes, 10 of them, then nothing.
 * It knows nothing about Vault's API; it records the request lines it saw.
 */
import net from 'node:net';

export type HostileMode =
  | { kind: 'huge'; announce: boolean; limitBytes: number }
  | { kind: 'stall-headers' }
  | { kind: 'stall-body' };

export interface HostileServer {
  readonly address: string;
  set(mode: HostileMode): void;
  /** Bytes of body written to (and accepted by) clients since the last `set`. */
  bodyBytesSent(): number;
  /** Request lines seen since the last `set` ("POST /v1/..."). */
  requests(): string[];
  close(): Promise<void>;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x20);

export async function startHostileServer(): Promise<HostileServer> {
  let mode: HostileMode = { kind: 'stall-headers' };
  let sent = 0;
  let seen: string[] = [];
  const sockets = new Set<net.Socket>();

  const answer = (socket: net.Socket, m: HostileMode) => {
    switch (m.kind) {
      case 'stall-headers':
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n');
        return;
      case 'stall-body':
        socket.write(
          'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"data": {"',
        );
        return;
      case 'huge': {
        const length = m.announce ? `Content-Length: ${m.limitBytes + 2}\r\n` : '';
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${length}\r\n{"`);
        let written = 0;
        const pump = () => {
          while (!socket.destroyed && written < m.limitBytes) {
            const n = Math.min(CHUNK.length, m.limitBytes - written);
            written += n;
            const ok = socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n), (error) => {
              if (!error) sent += n;
            });
            if (!ok) {
              socket.once('drain', pump);
              return;
            }
          }
          if (!socket.destroyed) socket.end();
        };
        pump();
        return;
      }
    }
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      // One request per connection is enough: answer once the headers (and a small body) are in.
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0 || buffered === '') return;
      const head = buffered.slice(0, end);
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      seen.push(head.split('\r\n')[0] ?? '');
      buffered = '';
      answer(socket, mode);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    set(next) {
      mode = next;
      sent = 0;
      seen = [];
    },
    bodyBytesSent: () => sent,
    requests: () => seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
