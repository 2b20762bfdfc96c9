/**
 * Reads OpenBao's own file audit log (a server started with `startOpenBao({ audit: true })`) with the
 * operation of each request, so tests can count write requests independently of the client.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_DIR, type TestVault } from './openbao.js';

export interface AuditedRequest {
  operation: string;
  path: string;
}

const WRITE_OPERATIONS = new Set(['create', 'update', 'delete', 'patch']);

function auditFile(vault: TestVault): string {
  // Same name openbao.ts gives the audit device.
  return join(RUN_DIR, `openbao-${vault.port}-audit.log`);
}

/** A cursor into the audit log: `since()` returns the requests recorded after it was taken. */
export function auditCursor(vault: TestVault): { since(): AuditedRequest[] } {
  const file = auditFile(vault);
  const offset = existsSync(file) ? readFileSync(file, 'utf8').length : 0;
  return {
    since: () => {
      const text = existsSync(file) ? readFileSync(file, 'utf8').slice(offset) : '';
      return text
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { type: string; request?: { operation?: string; path?: string } })
        .filter((e) => e.type === 'request')
        .map((e) => ({ operation: String(e.request?.operation), path: String(e.request?.path) }));
    },
  };
}

export function writesOf(requests: readonly AuditedRequest[]): AuditedRequest[] {
  return requests.filter((r) => WRITE_OPERATIONS.has(r.operation));
}
