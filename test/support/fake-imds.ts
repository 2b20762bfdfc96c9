/**
 * FAKE EC2 instance metadata service (IMDSv2) for tests, because the real one exists only on EC2.
 * Behaves like AWS where the agent depends on it: PUT /latest/api/token needs the TTL header (400
 * otherwise), GET /latest/meta-data/<key> needs a token it issued (401 otherwise), unknown keys are
 * 404. `delayMs` delays every answer; `hang` never answers (until `close`).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface FakeImdsOptions {
  metadata?: Record<string, string>;
  delayMs?: number;
  hang?: boolean;
}

export interface FakeImds {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly requests: { token: number; get: number; rejected: number };
  /** Headers of every GET, for asserting what the client sent. */
  readonly getHeaders: IncomingMessage['headers'][];
  close(): Promise<void>;
}

export async function startFakeImds(options: FakeImdsOptions = {}): Promise<FakeImds> {
  const metadata = options.metadata ?? {};
  const tokens = new Set<string>();
  const requests = { token: 0, get: 0, rejected: 0 };
  const getHeaders: IncomingMessage['headers'][] = [];

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'PUT' && url.pathname === '/latest/api/token') {
      requests.token++;
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) {
        requests.rejected++;
        res.writeHead(400).end();
        return;
      }
      const token = `fake-imds-${randomBytes(16).toString('hex')}`;
      tokens.add(token);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/latest/meta-data/')) {
      requests.get++;
      getHeaders.push(req.headers);
      const token = req.headers['x-aws-ec2-metadata-token'];
      if (typeof token !== 'string' || !tokens.has(token)) {
        requests.rejected++;
        res.writeHead(401).end();
        return;
      }
      const key = url.pathname.slice('/latest/meta-data/'.length);
      const value = metadata[key];
      if (value === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(value);
      return;
    }
    res.writeHead(405).end();
  };

  const server = createServer((req, res) => {
    req.resume();
    if (options.hang) return;
    if (options.delayMs) setTimeout(() => answer(req, res), options.delayMs).unref();
    else answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    getHeaders,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
