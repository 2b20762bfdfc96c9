/**
 * The `status` report: built from local facts only (files, config, state), rendered as a table or JSON.
 * Pure: the snapshot test feeds it fixed inputs.
 */
import type { CertSpec } from '../config/types.js';
import type { SetDecision } from '../plan/renewal.js';
import { formatDuration } from '../util/duration.js';
import type { AgentState } from './state.js';

export interface CertificateStatus {
  name: string;
  commonName: string | null;
  sans: { dns: string[]; ip: string[] };
  serial: string | null;
  notAfter: string | null;
  secondsLeft: number | null;
  nextRenewal: string | null;
  /** ok | due: <reason> */
  state: string;
  mount: string;
  role: string;
  dir: string;
  units: string[];
  lastResult: string | null;
  lastAttempt: string | null;
  lastSuccess: string | null;
  lastError: string | null;
  issueFailures: number;
  rollbacks: number;
  /** Only when there are any: what a killed writer left in the directory (removed by the next pass). */
  leftovers?: string[];
}

export interface StatusReport {
  generatedAt: string;
  token: {
    ttlSeconds: number | null;
    renewable: boolean;
    checkedAt: string;
    periodSeconds: number | null;
  } | null;
  lastPass: { at: string; success: boolean } | null;
  certificates: CertificateStatus[];
}

export function buildStatusReport(
  results: { spec: CertSpec; inspection: SetDecision; leftovers?: string[] }[],
  state: AgentState,
  now: Date,
): StatusReport {
  const token = state.token
    ? {
        // What is left of the TTL seen at the last check (0 TTL = never expires).
        ttlSeconds:
          state.token.ttlSeconds === 0
            ? null
            : Math.max(
                0,
                Math.round(
                  state.token.ttlSeconds - (now.getTime() - Date.parse(state.token.checkedAt)) / 1000,
                ),
              ),
        renewable: state.token.renewable,
        checkedAt: state.token.checkedAt,
        periodSeconds: state.token.periodSeconds ?? null,
      }
    : null;
  return {
    generatedAt: now.toISOString(),
    token,
    lastPass: state.lastPass ? { at: state.lastPass.at, success: state.lastPass.success } : null,
    certificates: results.map(({ spec, inspection, leftovers }) => {
      const leaf = inspection.leaf;
      const last = state.certificates[spec.name];
      return {
        name: spec.name,
        commonName: leaf?.commonName ?? null,
        sans: { dns: leaf?.dnsSans ?? [], ip: leaf?.ipSans ?? [] },
        serial: leaf?.serial ?? null,
        notAfter: leaf?.notAfter.toISOString() ?? null,
        secondsLeft: leaf ? Math.round((leaf.notAfter.getTime() - now.getTime()) / 1000) : null,
        nextRenewal: inspection.renewalTime?.toISOString() ?? null,
        state: inspection.verdict ? `due: ${inspection.verdict.reason}` : 'ok',
        mount: spec.mount,
        role: spec.role,
        dir: spec.files.dir,
        units: spec.actions.flatMap((a) => (a.kind === 'systemd' ? [a.unit] : [])),
        lastResult: last?.lastResult ?? null,
        lastAttempt: last?.lastAttempt ?? null,
        lastSuccess: last?.lastSuccess ?? null,
        lastError: last?.lastError ?? null,
        issueFailures: last?.issueFailures ?? 0,
        rollbacks: last?.rollbacks ?? 0,
        ...(leftovers && leftovers.length > 0 ? { leftovers } : {}),
      };
    }),
  };
}

const COLUMNS: [string, (c: CertificateStatus) => string][] = [
  ['NAME', (c) => c.name],
  ['STATE', (c) => c.state],
  ['CN', (c) => c.commonName ?? '-'],
  ['SANS', (c) => [...c.sans.dns, ...c.sans.ip].join(',') || '-'],
  ['SERIAL', (c) => (c.serial ? c.serial.slice(-11) : '-')],
  ['NOT AFTER', (c) => c.notAfter?.replace('.000Z', 'Z') ?? '-'],
  [
    'LEFT',
    (c) => (c.secondsLeft === null ? '-' : c.secondsLeft < 0 ? 'expired' : formatDuration(c.secondsLeft)),
  ],
  ['NEXT RENEWAL', (c) => c.nextRenewal?.replace('.000Z', 'Z') ?? '-'],
  ['MOUNT/ROLE', (c) => `${c.mount}/${c.role}`],
  ['UNITS', (c) => c.units.join(',') || '-'],
  ['LAST', (c) => (c.lastResult ? `${c.lastResult}${c.lastError ? `: ${c.lastError}` : ''}` : '-')],
];

export function renderStatusTable(report: StatusReport): string {
  const rows = report.certificates.map((c) => COLUMNS.map(([, get]) => get(c)));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(COLUMNS.map(([h]) => h)), ...rows.map(line)];
  const t = report.token;
  out.push(
    '',
    t
      ? `token: ${t.ttlSeconds === null ? 'no expiry' : `${formatDuration(t.ttlSeconds)} left`}, ${t.renewable ? 'renewable' : 'not renewable'}${t.periodSeconds ? `, period ${formatDuration(t.periodSeconds)}` : ''} (as of ${t.checkedAt})`
      : 'token: unknown (no pass recorded yet)',
  );
  if (report.lastPass)
    out.push(`last pass: ${report.lastPass.at} ${report.lastPass.success ? 'ok' : 'FAILED'}`);
  for (const c of report.certificates) {
    for (const l of c.leftovers ?? []) out.push(`leftover (${c.name}, removed by the next pass): ${l}`);
  }
  return `${out.join('\n')}\n`;
}
