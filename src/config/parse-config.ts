/**
 * The config module's entry point: YAML text + host facts -> validated AgentConfig, or one
 * ConfigError (exit 3) whose message gives line:column, key path and reason for every problem.
 * Pure: the caller reads the file and gathers the facts.
 */
import type { core } from 'zod';
import { ConfigError } from '../errors.js';
import { expandValues } from './expand-values.js';
import { resolveConfig } from './resolve.js';
import { configSchema } from './schema.js';
import type { AgentConfig } from './types.js';
import { quote } from './value-schemas.js';
import type { VariableFacts } from './variables.js';
import { type ConfigIssue, loadYaml, throwIssues } from './yaml-source.js';

export type ConfigFacts = VariableFacts;

export interface ParseConfigOptions {
  /** Shown in messages, usually the config file's path. */
  source?: string;
}

function describe(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'object':
      return 'a mapping';
    case 'string':
      return `the string ${quote(value)}`;
    case 'boolean':
      return String(value);
    case 'number':
      return `the number ${value}`;
    default:
      return typeof value;
  }
}

const EXPECTED: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  record: 'a mapping',
};

/** Wording for the issues the schema does not word itself. */
function messageFor(issue: core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return 'is required';
    return `must be ${EXPECTED[issue.expected] ?? issue.expected}, got ${describe(issue.input)}`;
  }
  return undefined;
}

function toConfigIssues(issue: core.$ZodIssue): ConfigIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: [...issue.path, key] as (string | number)[],
      message: `unknown key ${quote(key)} (${issue.message})`,
      at: 'key' as const,
    }));
  }
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'invalid_key') {
    return [{ path, message: issue.issues.map((i) => i.message).join('; '), at: 'key' }];
  }
  return [{ path, message: issue.message }];
}

/** Issue codes that mean "this is not the kind of value expected here": the value's own checks never ran. */
const SHAPE_CODES = new Set([
  'invalid_type',
  'invalid_value',
  'invalid_union',
  'unrecognized_keys',
  'invalid_key',
]);

const startsWith = (path: readonly PropertyKey[], prefix: readonly PropertyKey[]) =>
  prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);

/**
 * The schema's issues and the values that could not be expanded, as one list. A failed expansion replaces what
 * the value's own checks said about the unexpanded text; it is not reported where the schema refuses the value's
 * place itself (an unknown key, a mapping that is a list, an enum or a boolean, whose values were never meant to
 * hold variables).
 */
function mergeIssues(failures: ConfigIssue[], issues: readonly core.$ZodIssue[]): ConfigIssue[] {
  const reported = failures.filter(
    (f) =>
      !issues.some(
        (i) =>
          SHAPE_CODES.has(i.code) &&
          startsWith(f.path, i.path) &&
          (i.code !== 'unrecognized_keys' || i.keys.includes(String(f.path[i.path.length]))),
      ),
  );
  const kept = issues.filter(
    (i) => SHAPE_CODES.has(i.code) || !reported.some((f) => startsWith(i.path, f.path)),
  );
  return [...reported, ...kept.flatMap(toConfigIssues)];
}

function findProtoKeys(value: unknown, path: (string | number)[], seen: Set<unknown>): ConfigIssue[] {
  if (typeof value !== 'object' || value === null || seen.has(value)) return [];
  seen.add(value);
  const issues: ConfigIssue[] = [];
  for (const [key, child] of Object.entries(value)) {
    const childPath = [...path, Array.isArray(value) ? Number(key) : key];
    if (key === '__proto__') issues.push({ path: childPath, message: 'is not an allowed key', at: 'key' });
    else issues.push(...findProtoKeys(child, childPath, seen));
  }
  return issues;
}

export function parseConfig(text: string, facts: ConfigFacts, opts: ParseConfigOptions = {}): AgentConfig {
  try {
    return parseConfigText(text, facts, opts);
  } catch (error) {
    // Belt and braces behind loadYaml's depth limit: a stack overflow in any walk is the config's fault
    // (exit 3), not a crash (exit 1).
    if (!(error instanceof RangeError)) throw error;
    const where = opts.source === undefined ? '' : ` in ${opts.source}`;
    throw new ConfigError(
      `config error${where}: the config is too deeply nested or too large (${error.message})`,
      {
        cause: error,
      },
    );
  }
}

function parseConfigText(text: string, facts: ConfigFacts, opts: ParseConfigOptions): AgentConfig {
  const { source } = opts;
  const yaml = loadYaml(text, source);
  const root = yaml.value;
  if (root === null || root === undefined) {
    throwIssues([{ path: [], message: 'the config is empty' }], yaml.locate, source);
  }
  if (typeof root !== 'object' || Array.isArray(root)) {
    throwIssues(
      [{ path: [], message: `the config must be a mapping, got ${describe(root)}` }],
      yaml.locate,
      source,
    );
  }
  const record = root as Record<string, unknown>;
  // zod skips `__proto__` keys silently; a key that vanishes without a word is worse than an error.
  const protoKeys = findProtoKeys(record, [], new Set());
  if (protoKeys.length > 0) throwIssues(protoKeys, yaml.locate, source);
  const expanded = expandValues(record, facts);
  const parsed = configSchema.safeParse(expanded.value, { error: messageFor });
  if (!parsed.success || expanded.failures.length > 0) {
    throwIssues(mergeIssues(expanded.failures, parsed.error?.issues ?? []), yaml.locate, source);
  }

  const { config, issues } = resolveConfig(parsed.data, facts.host, yaml.keysAt(['certificates']));
  if (issues.length > 0) throwIssues(issues, yaml.locate, source);
  return config;
}
