/**
 * Every file in test/fixtures/config/bad/ must be rejected with a ConfigError (exit 3) whose first
 * message line gives the source, `line L:C`, the key path and the reason. Each fixture states its
 * expectation in leading comments:
 *   # at: L:C            position of the offending key or value
 *   # key: a.b[0].c      key path (also checked in the error's details)
 *   # expect: fragment   text the message must contain (repeatable)
 *   # facts: no-ip       run against a host without IP addresses
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import { AgentError, ConfigError, ExitCode } from '../../src/errors.js';
import { FIXTURES, makeFacts } from '../support/config-facts.js';

const dir = fileURLToPath(new URL('bad/', FIXTURES));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

interface Expectation {
  at?: string;
  key?: string;
  fragments: string[];
  noIp: boolean;
}

function readExpectation(text: string): Expectation {
  const exp: Expectation = { fragments: [], noIp: false };
  for (const line of text.split('\n')) {
    const m = /^# (at|key|expect|facts): (.*)$/.exec(line);
    if (!m) break;
    const [, kind, value] = m as unknown as [string, string, string];
    if (kind === 'at') exp.at = value;
    else if (kind === 'key') exp.key = value;
    else if (kind === 'facts') exp.noIp = value === 'no-ip';
    else exp.fragments.push(value);
  }
  return exp;
}

function certificateOf(key: string | undefined): string | undefined {
  const m = /^certificates(?:\.([A-Za-z0-9_-]+)|\["([^"]+)"\])/.exec(key ?? '');
  return m ? (m[1] ?? m[2]) : undefined;
}

function parseError(text: string, noIp: boolean, source: string): unknown {
  const facts = makeFacts();
  if (noIp) facts.host = { hostname: facts.host.hostname, fqdn: facts.host.fqdn };
  try {
    parseConfig(text, facts, { source });
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('malformed configs', () => {
  it('has at least 20 fixtures', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
  });

  it.each(files)('%s is rejected with line:column, key path and reason', (file) => {
    const text = readFileSync(`${dir}${file}`, 'utf8');
    const exp = readExpectation(text);
    expect(exp.at, 'fixture states its position').toMatch(/^\d+:\d+$/);
    expect(exp.fragments.length, 'fixture states a reason').toBeGreaterThan(0);

    const error = parseError(text, exp.noIp, `bad/${file}`);
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(AgentError.is(configError)).toBe(true);
    expect(configError.exitCode).toBe(ExitCode.config);

    const first = configError.message.split('\n')[0] as string;
    expect(first).toContain(`config error in bad/${file} at line ${exp.at}: `);
    for (const fragment of exp.fragments) expect(first).toContain(fragment);
    if (exp.key !== undefined) {
      expect(first).toContain(` ${exp.key}: `);
      expect(configError.details.key).toBe(exp.key);
    }
    const certificate = certificateOf(exp.key);
    if (certificate !== undefined) {
      expect(configError.details.certificate).toBe(certificate);
      expect(first).toContain(certificate);
    }
    const [line, col] = (exp.at as string).split(':').map(Number);
    expect(configError.details).toMatchObject({ line, column: col, source: `bad/${file}` });
  });
});
