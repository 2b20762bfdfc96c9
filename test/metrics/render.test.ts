import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { escapeLabelValue, formatValue, renderMetrics } from '../../src/metrics/render.js';
import type { MetricsSnapshot } from '../../src/metrics/types.js';
import { PromParseError, parsePromText } from '../support/prom-text-parser.js';

const SAMPLE: MetricsSnapshot = {
  certificates: [
    {
      name: 'etcd-peer',
      mount: 'etcd/prod-eu1/pki',
      role: 'member',
      notAfter: new Date('2025-04-03T05:06:37Z'),
      renewalTime: new Date('2025-03-23T18:51:49.213Z'),
      lastSuccess: new Date('2025-03-04T05:06:40Z'),
      issueFailuresTotal: 0,
      rollbacksTotal: 0,
      upToDate: true,
    },
    {
      // Never issued yet: no certificate on disk, so no not-after / renewal / last-success samples.
      name: 'kubelet-client',
      mount: 'k8s/prod-eu1/pki',
      role: 'kubelet-client',
      issueFailuresTotal: 3,
      rollbacksTotal: 1,
      upToDate: false,
    },
  ],
  tokenTtlSeconds: 2764799,
  lastPass: new Date('2025-03-04T05:06:41.250Z'),
  lastPassSuccess: false,
  vaultRequestsTotal: 17,
  clockSkewSeconds: -0.75,
};

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;

function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe('renderMetrics', () => {
  it('renders the sample snapshot exactly', () => {
    // Unix times checked by hand: 2025-04-03T05:06:37Z = 1743656797, 2025-03-04T05:06:40Z = 1741064800.
    expect(renderMetrics(SAMPLE)).toBe(
      [
        '# HELP vault_pki_agent_certificate_not_after_seconds Unix time the certificate on disk expires (notAfter).',
        '# TYPE vault_pki_agent_certificate_not_after_seconds gauge',
        'vault_pki_agent_certificate_not_after_seconds{certificate="etcd-peer",mount="etcd/prod-eu1/pki",role="member"} 1743656797',
        '# HELP vault_pki_agent_certificate_renewal_seconds Unix time the certificate is next due for renewal (fleet-jittered).',
        '# TYPE vault_pki_agent_certificate_renewal_seconds gauge',
        'vault_pki_agent_certificate_renewal_seconds{certificate="etcd-peer",mount="etcd/prod-eu1/pki",role="member"} 1742755909.213',
        '# HELP vault_pki_agent_certificate_last_success_seconds Unix time the certificate was last issued and written, or found up to date.',
        '# TYPE vault_pki_agent_certificate_last_success_seconds gauge',
        'vault_pki_agent_certificate_last_success_seconds{certificate="etcd-peer",mount="etcd/prod-eu1/pki",role="member"} 1741064800',
        '# HELP vault_pki_agent_certificate_issue_failures_total Failed attempts to issue the certificate.',
        '# TYPE vault_pki_agent_certificate_issue_failures_total counter',
        'vault_pki_agent_certificate_issue_failures_total{certificate="etcd-peer",mount="etcd/prod-eu1/pki",role="member"} 0',
        'vault_pki_agent_certificate_issue_failures_total{certificate="kubelet-client",mount="k8s/prod-eu1/pki",role="kubelet-client"} 3',
        '# HELP vault_pki_agent_certificate_rollbacks_total Times a failed health check rolled the certificate back to the previous generation.',
        '# TYPE vault_pki_agent_certificate_rollbacks_total counter',
        'vault_pki_agent_certificate_rollbacks_total{certificate="etcd-peer",mount="etcd/prod-eu1/pki",role="member"} 0',
        'vault_pki_agent_certificate_rollbacks_total{certificate="kubelet-client",mount="k8s/prod-eu1/pki",role="kubelet-client"} 1',
        '# HELP vault_pki_agent_certificate_up_to_date 1 if the certificate on disk matches its spec and is not due, else 0.',
        '# TYPE vault_pki_agent_certificate_up_to_date gauge',
        'vault_pki_agent_certificate_up_to_date{certificate="etcd-peer",mount="etcd/prod-eu1/pki",role="member"} 1',
        'vault_pki_agent_certificate_up_to_date{certificate="kubelet-client",mount="k8s/prod-eu1/pki",role="kubelet-client"} 0',
        "# HELP vault_pki_agent_token_ttl_seconds Remaining TTL of the agent's Vault token when last looked up (0: never expires).",
        '# TYPE vault_pki_agent_token_ttl_seconds gauge',
        'vault_pki_agent_token_ttl_seconds 2764799',
        '# HELP vault_pki_agent_last_pass_seconds Unix time the last certificate pass ended.',
        '# TYPE vault_pki_agent_last_pass_seconds gauge',
        'vault_pki_agent_last_pass_seconds 1741064801.25',
        '# HELP vault_pki_agent_last_pass_success 1 if the last certificate pass succeeded, else 0.',
        '# TYPE vault_pki_agent_last_pass_success gauge',
        'vault_pki_agent_last_pass_success 0',
        '# HELP vault_pki_agent_vault_requests_total Requests sent to Vault.',
        '# TYPE vault_pki_agent_vault_requests_total counter',
        'vault_pki_agent_vault_requests_total 17',
        "# HELP vault_pki_agent_clock_skew_seconds Local clock minus the Date header of Vault's last answer, in seconds.",
        '# TYPE vault_pki_agent_clock_skew_seconds gauge',
        'vault_pki_agent_clock_skew_seconds -0.75',
        '',
      ].join('\n'),
    );
  });

  it('parses back, with an independent parser, into the values of the snapshot', () => {
    const families = parsePromText(renderMetrics(SAMPLE));
    const value = (name: string, certificate?: string) =>
      families.get(`vault_pki_agent_${name}`)?.samples.find((s) => s.labels.certificate === certificate)
        ?.value;
    expect(value('certificate_not_after_seconds', 'etcd-peer')).toBe(
      SAMPLE.certificates[0]!.notAfter!.getTime() / 1000,
    );
    expect(value('certificate_not_after_seconds', 'kubelet-client')).toBeUndefined();
    expect(value('certificate_issue_failures_total', 'kubelet-client')).toBe(3);
    expect(value('certificate_up_to_date', 'kubelet-client')).toBe(0);
    expect(value('clock_skew_seconds')).toBe(-0.75);
    for (const f of families.values()) {
      expect(f.help, f.name).toBeTruthy();
      expect(f.type, f.name).toBe(f.name.endsWith('_total') ? 'counter' : 'gauge');
      for (const s of f.samples)
        expect(s.timestamp, 'the textfile collector rejects timestamps').toBeUndefined();
    }
    expect(families.get('vault_pki_agent_certificate_renewal_seconds')!.samples[0]!.labels).toEqual({
      certificate: 'etcd-peer',
      mount: 'etcd/prod-eu1/pki',
      role: 'member',
    });
  });

  it('an empty snapshot renders nothing (no families without samples)', () => {
    expect(renderMetrics({ certificates: [] })).toBe('');
  });

  it('escapes quotes, backslashes and line feeds in label values', () => {
    const nasty = 'a"b\\c\nd\\"e\\n';
    expect(escapeLabelValue(nasty)).toBe('a\\"b\\\\c\\nd\\\\\\"e\\\\n');
    const text = renderMetrics({
      certificates: [
        {
          name: nasty,
          mount: 'm\\ount',
          role: 'r"ole\n',
          issueFailuresTotal: 1,
          rollbacksTotal: 0,
          upToDate: true,
        },
      ],
    });
    expect(text).toContain(
      '{certificate="a\\"b\\\\c\\nd\\\\\\"e\\\\n",mount="m\\\\ount",role="r\\"ole\\n"} 1\n',
    );
    // One physical line per sample, and the parser recovers the exact original strings.
    expect(text.split('\n').filter((l) => l.includes('issue_failures_total{'))).toHaveLength(1);
    const labels = parsePromText(text).get('vault_pki_agent_certificate_issue_failures_total')!.samples[0]!
      .labels;
    expect(labels).toEqual({ certificate: nasty, mount: 'm\\ount', role: 'r"ole\n' });
  });

  it('spells special values the way Go parses them', () => {
    expect(
      [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1e21, 0.1].map(formatValue),
    ).toEqual(['NaN', '+Inf', '-Inf', '0', '1e+21', '0.1']);
    const text = renderMetrics({ certificates: [], clockSkewSeconds: Number.NaN, tokenTtlSeconds: 1e21 });
    expect(parsePromText(text).get('vault_pki_agent_token_ttl_seconds')!.samples[0]!.value).toBe(1e21);
  });

  it('refuses a snapshot with the same certificate twice (node_exporter would drop the file)', () => {
    const c = SAMPLE.certificates[0]!;
    expect(() => renderMetrics({ certificates: [c, c] })).toThrow(AgentError);
  });
});

describe('the independent parser can fail', () => {
  const good = 'x_total{a="b"} 1\n';
  it.each([
    ['an unescaped quote', 'x_total{a="b"c"} 1\n'],
    ['an invalid escape', 'x_total{a="b\\t"} 1\n'],
    ['a missing final line feed', 'x_total{a="b"} 1'],
    ['a duplicate series', `${good}${good}`],
    ['a TYPE after samples', `${good}# TYPE x_total counter\n`],
    ['split families', 'x 1\ny 2\nx{a="c"} 3\n'],
    ['a bad value', 'x 1,5\n'],
    ['a bad metric name', '0x 1\n'],
  ])('rejects %s', (_what, text) => {
    expect(() => parsePromText(text)).toThrow(PromParseError);
  });
  it('accepts the minimal good text', () => {
    expect(parsePromText(good).get('x_total')!.samples).toEqual([
      { name: 'x_total', labels: { a: 'b' }, value: 1 },
    ]);
  });
});

describe.skipIf(!promtool)('promtool check metrics (Debian package `prometheus`)', () => {
  it('accepts the rendering of the sample snapshot and of nasty labels', () => {
    expect(promtoolCheck(renderMetrics(SAMPLE))).toEqual({ status: 0, output: '' });
    const nasty = renderMetrics({
      certificates: [
        {
          name: 'a"b\\c\nd',
          mount: 'm',
          role: 'r',
          issueFailuresTotal: 0,
          rollbacksTotal: 0,
          upToDate: false,
        },
      ],
    });
    expect(promtoolCheck(nasty)).toEqual({ status: 0, output: '' });
  });
  it('rejects a broken text (the check is real)', () => {
    const broken = renderMetrics(SAMPLE).replace('role="member"}', 'role="mem"ber"}');
    expect(promtoolCheck(broken).status).not.toBe(0);
  });
});
