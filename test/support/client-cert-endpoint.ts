/**
 * A local HTTPS endpoint that stands in for a kube-apiserver's authentication: it serves with a
 * certificate from the Kubernetes CA and accepts only clients presenting a certificate that chains to
 * that CA (`requestCert` + `rejectUnauthorized`). Every request records who the client certificate says
 * it is, and `GET /whoami` answers with it, so a test can prove what kubectl presented.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface SeenClient {
  path: string;
  commonName: string;
  organizations: string[];
  serial: string;
}

export interface ClientCertEndpoint {
  url: string;
  seen: SeenClient[];
  /** TLS handshakes refused because the client presented no certificate or one from another CA. */
  refused(): number;
  close(): Promise<void>;
}

function subjectField(subject: string, key: string): string[] {
  return subject
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

export async function startClientCertEndpoint(opts: {
  caPem: string;
  certPem: string;
  keyPem: string;
}): Promise<ClientCertEndpoint> {
  const seen: SeenClient[] = [];
  let refused = 0;
  const server: Server = createServer(
    { ca: opts.caPem, cert: opts.certPem, key: opts.keyPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerX509Certificate();
      if (!peer) {
        res.writeHead(401).end();
        return;
      }
      const client: SeenClient = {
        path: req.url ?? '',
        commonName: subjectField(peer.subject, 'CN')[0] ?? '',
        organizations: subjectField(peer.subject, 'O'),
        serial: peer.serialNumber,
      };
      seen.push(client);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(client));
    },
  );
  server.on('tlsClientError', () => {
    refused++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `https://127.0.0.1:${port}`,
    seen,
    refused: () => refused,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber;
}
