/**
 * Health checks after a restart: a TLS handshake to host:port that must verify against the set's new
 * ca.pem (and present the new client certificate if the server asks for one), or a command that must
 * exit 0 (run by util/program.ts, like every program the agent starts). Retried until the timeout, because a restarted service needs a moment to listen again.
 */

import type { HealthCheckSpec } from '../config/types.js';
import { WriteError } from '../errors.js';
import { runProgram } from '../util/program.js';
import { readSmallFile } from '../util/small-file.js';

/** Larger than any certificate set file (a chain of a few certificates is a few KB). */
const MAX_SET_FILE_BYTES = 4 * 1024 * 1024;

export interface HealthCheckFiles {
  /** Paths of the set's visible files. */
  cert: string;
  key: string;
  ca: string;
}

async function tlsHandshake(
  target: string,
  files: { cert: Buffer; key: Buffer; ca: Buffer },
  timeoutMs: number,
): Promise<void> {
  // Loaded here: most sets have no TLS health check, and Node's TLS stack is ~1 ms to load at boot.
  const { connect } = await import('node:tls');
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(target.slice(i + 1));
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      ca: files.ca,
      cert: files.cert,
      key: files.key,
      servername: undefined,
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`no TLS handshake with ${target} within ${timeoutMs} ms`));
    });
    socket.once('error', (e) => reject(e));
  });
}

/** Runs the check until it passes or its timeout runs out; throws WriteError('health-check-failed'). */
export async function runHealthCheck(
  certName: string,
  check: HealthCheckSpec,
  files: HealthCheckFiles,
  opts: { now?: () => number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + check.timeoutMs;
  let last = 'not run';
  // The set's files may belong to the consumer (key.pem does): read them bounded and non-blocking, as every
  // other read of a set, so a file grown to gigabytes or a lease cannot exhaust or stall the root agent.
  const read = (path: string): Buffer => {
    try {
      return readSmallFile(path, MAX_SET_FILE_BYTES).data;
    } catch (error) {
      throw new WriteError(
        'health-check-failed',
        `certificate "${certName}": health check cannot read ${path}: ${(error as Error).message}`,
        { details: { certificate: certName } },
      );
    }
  };
  const material = check.tls
    ? { cert: read(files.cert), key: read(files.key), ca: read(files.ca) }
    : undefined;
  for (let attempt = 0; ; attempt++) {
    const left = Math.max(1, deadline - now());
    try {
      if (check.tls && material) {
        await tlsHandshake(check.tls, material, Math.min(left, 5000));
      } else if (check.command) {
        await runProgram(check.command, { label: check.command[0], timeoutMs: Math.min(left, 30_000) });
      }
      return;
    } catch (error) {
      last = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    }
    if (now() + 500 >= deadline) break;
    await sleep(Math.min(500 * 2 ** Math.min(attempt, 3), 4000, deadline - now()));
  }
  const what = check.tls ? `TLS handshake with ${check.tls}` : `command ${check.command?.[0]}`;
  throw new WriteError(
    'health-check-failed',
    `certificate "${certName}": health check failed (${what}) for ${Math.round(check.timeoutMs / 1000)}s: ${last}`,
    { details: { certificate: certName } },
  );
}
