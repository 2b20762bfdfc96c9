/**
 * Hostile configs (issue 13, point 5) that the schema's shapes alone would let through or that used to hurt:
 * nesting deep enough to overflow the parser's stack, modes that let others rewrite a set, lifetimes too
 * short to renew. Each is a ConfigError (exit 3) with a message naming the problem.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import { AgentError, ExitCode } from '../../src/errors.js';
import { makeFacts } from '../support/config-facts.js';

function refusal(text: string): AgentError {
  try {
    parseConfig(text, makeFacts(), { source: 'hostile.yaml' });
  } catch (e) {
    if (AgentError.is(e)) return e;
    throw e;
  }
  throw new Error('expected the config to be refused');
}

const CERT = (files: string, extra = '') =>
  `cluster: prod\ncertificates:\n  etcd-peer:\n    preset: etcd-peer\n${extra}    files: ${files}\n`;

/** The nesting limit docs/ARCHITECTURE.md promises (config/limits: YAML depth ≤ 64). */
const MAX_YAML_DEPTH = 64;

describe('deeply nested YAML', () => {
  const shapes: Record<string, (n: number) => string> = {
    'flow lists': (n) => `cluster: prod\ncertificates: ${'['.repeat(n)}${']'.repeat(n)}\n`,
    'flow mappings': (n) => `cluster: prod\ncertificates: ${'{a: '.repeat(n)}1${'}'.repeat(n)}\n`,
    'block mappings': (n) =>
      `cluster: prod\ncertificates:\n${Array.from({ length: n }, (_, i) => `${' '.repeat(i + 1)}a:\n`).join('')}${' '.repeat(n + 1)}b: 1\n`,
  };
  for (const [shape, make] of Object.entries(shapes)) {
    for (const depth of [MAX_YAML_DEPTH + 1, 5_000, 100_000]) {
      if (shape === 'block mappings' && depth > 5_000) continue; // n² bytes of indentation
      it(`${shape}, ${depth} levels: exit 3 naming the nesting, not a stack overflow`, () => {
        const e = refusal(make(depth));
        expect(e.exitCode).toBe(ExitCode.config);
        expect(e.message).toMatch(
          /^config error in hostile\.yaml at line \d+:\d+: the YAML is nested more than 64 levels deep \(a config needs fewer than 10\)$/,
        );
      });
    }
  }

  it('a config nested as deep as a real one is not affected', () => {
    const e = refusal(
      `cluster: prod\ncertificates: ${'{a: '.repeat(MAX_YAML_DEPTH - 2)}1${'}'.repeat(MAX_YAML_DEPTH - 2)}\n`,
    );
    expect(e.message).not.toMatch(/nested/);
  });
});

describe('file modes', () => {
  it.each([
    [
      'certMode',
      '"0666"',
      /"0666" lets every user on the host rewrite the certificate files, ca.pem \(the trust anchor\) included/,
    ],
    ['certMode', '"0664"', /"0664" lets the group rewrite/],
    ['certMode', '"0646"', /"0646" lets every user/],
    [
      'dirMode',
      '"0777"',
      /"0777" lets every user on the host add, remove or replace entries in the set directory/,
    ],
    ['dirMode', '"0775"', /"0775" lets the group/],
    ['dirMode', '"0770"', /"0770" lets the group/],
  ])('%s %s: exit 3', (key, mode, message) => {
    const e = refusal(CERT(`{ dir: /etc/etcd/pki, ${key}: ${mode} }`));
    expect(e.exitCode).toBe(ExitCode.config);
    expect(e.message).toMatch(message);
    expect(e.message).toContain(`certificates.etcd-peer.files.${key}`);
  });

  it('modes that only the owner can write are accepted (the key stays 0600 whatever certMode says)', () => {
    const config = parseConfig(
      CERT('{ dir: /etc/etcd/pki, certMode: "0644", dirMode: "0755" }'),
      makeFacts(),
    );
    expect(config.certificates[0]?.files).toMatchObject({ certMode: 0o644, dirMode: 0o755 });
  });
});

describe('certificate lifetime', () => {
  it.each(['5s', '9s', '500ms'])('ttl %s: exit 3, below the 10 s minimum', (ttl) => {
    const e = refusal(CERT('{ dir: /etc/etcd/pki }', `    ttl: ${ttl}\n`));
    expect(e.exitCode).toBe(ExitCode.config);
    expect(e.message).toMatch(
      /certificates\.etcd-peer\.ttl: .* is too short: a certificate must live at least 10s/,
    );
  });

  it('defaults.ttl is held to the same minimum; 10s is accepted', () => {
    const e = refusal(`cluster: prod\ndefaults: { ttl: 3s }\ncertificates: {}\n`);
    expect(e.message).toMatch(/defaults\.ttl: 3s is too short/);
    const ok = parseConfig(CERT('{ dir: /etc/etcd/pki }', '    ttl: 10s\n'), makeFacts());
    expect(ok.certificates[0]?.ttlSeconds).toBe(10);
  });
});
