// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} is the config's variable syntax, not a template slip.
/**
 * Property tests: whatever text or value lands in the config, parseConfig either returns a config
 * or throws a ConfigError (never a TypeError or a zod/yaml error), and no `${` survives expansion.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDocument, stringify } from 'yaml';
import { parseConfig } from '../../src/config/parse-config.js';
import { expandVariables } from '../../src/config/variables.js';
import { ConfigError } from '../../src/errors.js';
import { FIXTURES, makeFacts } from '../support/config-facts.js';

const facts = makeFacts({
  ec2: { 'local-ipv4': '172.31.5.6', 'instance-id': 'i-0abc' },
  env: { API_LB: 'api.example.com', X: 'x', EMPTY: '', LOOP: '${cluster}', DIR: '/srv/pki' },
});
const goodText = readFileSync(new URL('good/node.yaml', FIXTURES), 'utf8');
const good = parseDocument(goodText).toJS() as Record<string, unknown>;

type Path = (string | number)[];

/** Every path in the tree (maps and lists), including the root's children. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== 'object' || value === null) return [];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...pathsOf(v, [...prefix, k])]);
}

function setIn(root: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const segment of path.slice(0, -1)) node = node[segment] as Record<string | number, unknown>;
  node[path[path.length - 1] as string | number] = value;
  return copy;
}

const allPaths = pathsOf(good);
const stringPaths = allPaths.filter((p) => {
  let node: unknown = good;
  for (const s of p) node = (node as Record<string | number, unknown>)[s];
  return typeof node === 'string';
});

/** Runs parseConfig and fails the property on anything but success or a ConfigError. */
function parseOrConfigError(text: string): ReturnType<typeof parseConfig> | undefined {
  try {
    return parseConfig(text, facts);
  } catch (error) {
    if (
      error instanceof ConfigError &&
      error.exitCode === 3 &&
      /^config error at line \d+:\d+: /.test(error.message)
    ) {
      return undefined;
    }
    throw error;
  }
}

function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap(stringsIn);
}

const variableish = fc
  .array(
    fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constantFrom(
        '${',
        '}',
        '$',
        '${cluster}',
        '${host.fqdn}',
        '${host.ipv6}',
        '${ec2.local-ipv4}',
        '${ec2.public-ipv4}',
        '${env.X}',
        '${env.LOOP}',
        '${env.UNSET}',
        '${${cluster}}',
        '$${cluster}',
        '/',
        '.',
        '10.0.0.1',
      ),
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join(''));

const yamlish = fc
  .array(
    fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.constantFrom(
        'cluster: ',
        'certificates:\n',
        '  a:\n',
        '    preset: etcd-peer\n',
        '    files: { dir: /x }\n',
        '\n',
        '  ',
        '- ',
        ': ',
        '[',
        ']',
        '{',
        '}',
        '&a ',
        '*a',
        '!!str ',
        '!x ',
        '"',
        "'",
        '#',
        '---\n',
        '${host.fqdn}',
        '0o644',
        '__proto__: ',
      ),
    ),
    { maxLength: 30 },
  )
  .map((parts) => parts.join(''));

describe('parseConfig properties', () => {
  it('the unmodified good config parses', () => {
    expect(parseOrConfigError(goodText)?.certificates).toHaveLength(6);
  });

  it('any text: returns or throws ConfigError with a position', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), yamlish), (text) => {
        parseOrConfigError(text);
      }),
      { numRuns: 400 },
    );
  });

  it('any JSON-ish value at any place of a valid config: returns or throws ConfigError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...allPaths), fc.jsonValue({ maxDepth: 3 }), (path, value) => {
        parseOrConfigError(stringify(setIn(good, path, value)));
      }),
      { numRuns: 400 },
    );
  });

  it('any extra key anywhere: returns or throws ConfigError', () => {
    const mapPaths = [[], ...allPaths].filter((p) => {
      let node: unknown = good;
      for (const s of p) node = (node as Record<string | number, unknown>)[s];
      return typeof node === 'object' && node !== null && !Array.isArray(node);
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...mapPaths),
        fc.string({ maxLength: 12 }),
        fc.jsonValue({ maxDepth: 2 }),
        (p, k, v) => {
          parseOrConfigError(stringify(setIn(good, [...p, k], v)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('strings with variables at any string value: never leaves "${" in the result', () => {
    fc.assert(
      fc.property(fc.constantFrom(...stringPaths), variableish, (path, value) => {
        const config = parseOrConfigError(stringify(setIn(good, path, value)));
        if (config !== undefined) {
          for (const text of stringsIn(config)) expect(text).not.toContain('${');
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('expandVariables properties', () => {
  it('either fails or returns text without "${"', () => {
    fc.assert(
      fc.property(
        variableish,
        fc.option(fc.constantFrom('prod', 'c1'), { nil: undefined }),
        (text, cluster) => {
          const result = expandVariables(text, facts, cluster);
          if (result.ok) expect(result.value).not.toContain('${');
          else expect(result.message.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('leaves text without "${" unchanged', () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !s.includes('${')),
        (text) => {
          expect(expandVariables(text, facts, 'prod')).toEqual({ ok: true, value: text });
        },
      ),
    );
  });
});
