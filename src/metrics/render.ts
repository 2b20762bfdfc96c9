/**
 * Prometheus text exposition format 0.0.4 for node_exporter's textfile collector (pure).
 *
 * Times are unix timestamps, not "seconds until": the file is written once per pass and read for
 * hours in between, so a countdown would be stale; `vault_pki_agent_certificate_not_after_seconds - time()`
 * gives the time left. No sample timestamps (the textfile collector rejects them). A value that is
 * not known (no certificate on disk, token not looked up) is left out rather than written as 0, so an
 * alert on it cannot fire on a made-up number. Staleness of the whole file is node_exporter's
 * `node_textfile_mtime_seconds`.
 */
import { AgentError, ExitCode } from '../errors.js';
import type { CertificateMetrics, MetricsSnapshot } from './types.js';

export const METRIC_PREFIX = 'vault_pki_agent_';

type MetricType = 'gauge' | 'counter';

interface Sample {
  labels: readonly (readonly [string, string])[];
  value: number;
}

interface Family {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const seconds = (date: Date | undefined): number | undefined =>
  date === undefined ? undefined : date.getTime() / 1000;

const bool = (value: boolean | undefined): number | undefined =>
  value === undefined ? undefined : value ? 1 : 0;

/** Label value escaping of format 0.0.4: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escaping: backslash and line feed (quotes stay as they are). */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Go's ParseFloat spelling, which Prometheus reads. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

type CertField = (c: CertificateMetrics) => number | undefined;

const CERT_FAMILIES: readonly { name: string; type: MetricType; help: string; value: CertField }[] = [
  {
    name: 'certificate_not_after_seconds',
    type: 'gauge',
    help: 'Unix time the certificate on disk expires (notAfter).',
    value: (c) => seconds(c.notAfter),
  },
  {
    name: 'certificate_renewal_seconds',
    type: 'gauge',
    help: 'Unix time the certificate is next due for renewal (fleet-jittered).',
    value: (c) => seconds(c.renewalTime),
  },
  {
    name: 'certificate_last_success_seconds',
    type: 'gauge',
    help: 'Unix time the certificate was last issued and written, or found up to date.',
    value: (c) => seconds(c.lastSuccess),
  },
  {
    name: 'certificate_issue_failures_total',
    type: 'counter',
    help: 'Failed attempts to issue the certificate.',
    value: (c) => c.issueFailuresTotal,
  },
  {
    name: 'certificate_rollbacks_total',
    type: 'counter',
    help: 'Times a failed health check rolled the certificate back to the previous generation.',
    value: (c) => c.rollbacksTotal,
  },
  {
    name: 'certificate_up_to_date',
    type: 'gauge',
    help: '1 if the certificate on disk matches its spec and is not due, else 0.',
    value: (c) => bool(c.upToDate),
  },
];

function certificateFamilies(certificates: readonly CertificateMetrics[]): Family[] {
  const seen = new Set<string>();
  for (const c of certificates) {
    // Two series with the same labels make node_exporter drop the whole file.
    if (seen.has(c.name))
      throw new AgentError('internal', ExitCode.internal, `metrics: certificate ${c.name} listed twice`);
    seen.add(c.name);
  }
  return CERT_FAMILIES.map((f) => ({
    name: f.name,
    type: f.type,
    help: f.help,
    samples: certificates.flatMap((c) => {
      const value = f.value(c);
      if (value === undefined) return [];
      const labels = [
        ['certificate', c.name],
        ['mount', c.mount],
        ['role', c.role],
      ] as const;
      return [{ labels, value }];
    }),
  }));
}

function globalFamilies(s: MetricsSnapshot): Family[] {
  const one = (name: string, type: MetricType, help: string, value: number | undefined): Family => ({
    name,
    type,
    help,
    samples: value === undefined ? [] : [{ labels: [], value }],
  });
  return [
    one(
      'token_ttl_seconds',
      'gauge',
      "Remaining TTL of the agent's Vault token when last looked up (0: never expires).",
      s.tokenTtlSeconds,
    ),
    one('last_pass_seconds', 'gauge', 'Unix time the last certificate pass ended.', seconds(s.lastPass)),
    one(
      'last_pass_success',
      'gauge',
      '1 if the last certificate pass succeeded, else 0.',
      bool(s.lastPassSuccess),
    ),
    one('vault_requests_total', 'counter', 'Requests sent to Vault.', s.vaultRequestsTotal),
    one(
      'clock_skew_seconds',
      'gauge',
      "Local clock minus the Date header of Vault's last answer, in seconds.",
      s.clockSkewSeconds,
    ),
  ];
}

function renderSample(name: string, sample: Sample): string {
  const labels =
    sample.labels.length === 0
      ? ''
      : `{${sample.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
  return `${name}${labels} ${formatValue(sample.value)}\n`;
}

/** The whole textfile. Families without samples are left out; the text ends with a line feed. */
export function renderMetrics(snapshot: MetricsSnapshot): string {
  let out = '';
  for (const family of [...certificateFamilies(snapshot.certificates), ...globalFamilies(snapshot)]) {
    if (family.samples.length === 0) continue;
    const name = METRIC_PREFIX + family.name;
    out += `# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}\n`;
    for (const sample of family.samples) out += renderSample(name, sample);
  }
  return out;
}
