/**
 * A real OpenBao dev server per test file: `bao server -dev` on 127.0.0.1 with a random free port and
 * a random root token, guarded so that it cannot outlive the test process (see guarded-process.ts).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { type GuardedProcess, spawnGuarded } from './guarded-process.js';
import { registerTestSecret } from './secret-scan.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const RUN_DIR = join(REPO_ROOT, '.cache', 'test-run');

export function vaultBinary(): string {
  const fromEnv = process.env.VPA_TEST_VAULT_BIN;
  if (fromEnv) return fromEnv;
  const local = join(REPO_ROOT, '.cache', 'tools', 'bin', 'bao');
  if (existsSync(local)) return local;
  throw new Error('no OpenBao binary: run `bash scripts/install-test-tools` or set VPA_TEST_VAULT_BIN');
}

export function vaultVersion(): string {
  return execFileSync(vaultBinary(), ['version'], { encoding: 'utf8' }).trim();
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolvePort(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export interface ApiResult {
  status: number;
  body: Record<string, unknown> & {
    data?: Record<string, unknown>;
    errors?: string[];
    auth?: Record<string, unknown>;
  };
  headers: Headers;
}

export interface TestVault {
  readonly address: string;
  readonly rootToken: string;
  readonly port: number;
  readonly logFile: string;
  pid(): number;
  /** Raw API call (fetch), throws on non-2xx unless `allowError`. */
  api(
    method: string,
    path: string,
    body?: unknown,
    opts?: { token?: string; wrapTtl?: string; allowError?: boolean },
  ): Promise<ApiResult>;
  seal(): Promise<void>;
  unseal(): Promise<void>;
  /** Stop the server (state is lost: dev mode keeps everything in memory). */
  stop(): Promise<void>;
  /** Start again on the same port with the same root token (empty state). */
  restart(): Promise<void>;
  /**
   * Request paths Vault itself recorded in its file audit device since the server started (or since
   * `markAudit()`), in order: an independent count of what a client asked. Needs `audit: true`.
   */
  auditedPaths(): string[];
  markAudit(): void;
}

export async function startOpenBao(options: { name?: string; audit?: boolean } = {}): Promise<TestVault> {
  const port = await freePort();
  const rootToken = `root-${randomBytes(12).toString('hex')}`;
  registerTestSecret(rootToken);
  const address = `http://127.0.0.1:${port}`;
  const logFile = join(RUN_DIR, `openbao-${options.name ?? 'test'}-${port}.log`);
  let proc: GuardedProcess;
  const auditFile = join(RUN_DIR, `openbao-${port}-audit.log`);
  const configFile = join(RUN_DIR, `openbao-${port}.hcl`);
  let auditOffset = 0;
  if (options.audit) {
    mkdirSync(RUN_DIR, { recursive: true });
    // OpenBao only enables audit devices declaratively (not through sys/audit).
    writeFileSync(
      configFile,
      `audit "file" "counter" {\n  options {\n    file_path = "${auditFile}"\n  }\n}\n`,
    );
  }

  const launch = async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    proc = await spawnGuarded(
      vaultBinary(),
      [
        'server',
        '-dev',
        `-dev-root-token-id=${rootToken}`,
        `-dev-listen-address=127.0.0.1:${port}`,
        '-dev-no-store-token',
        '-log-level=warn',
        ...(options.audit ? [`-config=${configFile}`] : []),
      ],
      { env, logFile },
    );
    await waitHealthy(address, proc);
  };
  await launch();

  const api = vaultApi(address, rootToken);

  const unsealKey = () => {
    const keys = [...readFileSync(logFile, 'utf8').matchAll(/Unseal Key: (\S+)/g)];
    const last = keys.at(-1)?.[1];
    if (!last) throw new Error('dev server printed no unseal key');
    return last;
  };

  return {
    address,
    rootToken,
    port,
    logFile,
    pid: () => proc.pid,
    api,
    seal: async () => {
      await api('POST', 'sys/seal');
    },
    unseal: async () => {
      await api('POST', 'sys/unseal', { key: unsealKey() });
    },
    stop: async () => {
      await proc.stop();
    },
    restart: async () => {
      await launch();
    },
    auditedPaths: () => {
      if (!options.audit) throw new Error('start the server with { audit: true }');
      const text = existsSync(auditFile) ? readFileSync(auditFile, 'utf8').slice(auditOffset) : '';
      return text
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { type: string; request?: { path?: string } })
        .filter((entry) => entry.type === 'request')
        .map((entry) => String(entry.request?.path));
    },
    markAudit: () => {
      auditOffset = existsSync(auditFile) ? readFileSync(auditFile, 'utf8').length : 0;
    },
  };
}

/** Waits until the server at `address` answers `sys/health` with 200; stops it and throws after 30 s. */
export async function waitHealthy(address: string, proc: GuardedProcess): Promise<void> {
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`OpenBao at ${address} exited during start-up`);
    try {
      const res = await fetch(`${address}/v1/sys/health`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await proc.stop();
  throw new Error(`OpenBao at ${address} not healthy after 30s`);
}

/** `TestVault['api']` for the server at `address`: root token unless `opts.token`, throws on >= 300 unless allowed. */
export function vaultApi(address: string, rootToken: string): TestVault['api'] {
  return async (method, path, body, opts = {}) => {
    const headers: Record<string, string> = { 'X-Vault-Token': opts.token ?? rootToken };
    if (opts.wrapTtl) headers['X-Vault-Wrap-TTL'] = opts.wrapTtl;
    const res = await fetch(`${address}/v1/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as ApiResult['body']) : {};
    if (!opts.allowError && res.status >= 300) {
      throw new Error(`${method} ${path} -> ${res.status}: ${JSON.stringify(parsed.errors ?? parsed)}`);
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}
