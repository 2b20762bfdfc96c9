// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} is the config's variable syntax, not a template slip.
/**
 * `${...}` variables in config string values (SPEC "Config"). Expansion is single-pass and total:
 * every `${` must name a known, resolvable variable, and a substituted value may not itself
 * contain `${`, so no `${` ever survives into the resolved config.
 */
import { isPair, parseDocument, visit } from 'yaml';
import type { Ec2Facts, Ec2Key, HostFacts } from '../types/host-facts.js';

export interface VariableFacts {
  host: HostFacts;
  ec2?: Ec2Facts;
  env: Record<string, string | undefined>;
}

export type Expansion = { ok: true; value: string } | { ok: false; message: string };

const HOST_KEYS = ['hostname', 'fqdn', 'ipv4', 'ipv6'] as const;
const EC2_KEYS: readonly Ec2Key[] = ['local-ipv4', 'local-hostname', 'public-ipv4', 'instance-id'];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Every variable name the config may use (`env.NAME` stands for any environment variable). */
export const VARIABLE_NAMES: readonly string[] = [
  'cluster',
  ...HOST_KEYS.map((k) => `host.${k}`),
  ...EC2_KEYS.map((k) => `ec2.${k}`),
  'env.NAME',
];

function lookup(
  name: string,
  facts: VariableFacts,
  cluster: string | undefined,
): { value: string } | { error: string } {
  if (name === 'cluster') {
    return cluster === undefined
      ? { error: '${cluster} cannot be resolved: cluster is not valid' }
      : { value: cluster };
  }
  const dot = name.indexOf('.');
  const scope = dot < 0 ? name : name.slice(0, dot);
  const key = dot < 0 ? '' : name.slice(dot + 1);
  if (scope === 'host' && (HOST_KEYS as readonly string[]).includes(key)) {
    const value = facts.host[key as (typeof HOST_KEYS)[number]];
    return value === undefined
      ? { error: `\${${name}} cannot be resolved: this host has no ${key}` }
      : { value };
  }
  if (scope === 'ec2' && (EC2_KEYS as readonly string[]).includes(key)) {
    if (facts.ec2 === undefined) {
      return { error: `\${${name}} cannot be resolved: EC2 instance metadata is not available` };
    }
    const value = facts.ec2[key as Ec2Key];
    return value === undefined
      ? { error: `\${${name}} cannot be resolved: instance metadata has no ${key}` }
      : { value };
  }
  if (scope === 'env' && ENV_NAME.test(key)) {
    // An empty value is a value (an empty loadBalancer is simply omitted); unset is an error.
    const value = facts.env[key];
    return value === undefined
      ? { error: `\${${name}} cannot be resolved: environment variable ${key} is not set` }
      : { value };
  }
  return {
    error: `unknown variable \${${name}} (known: ${VARIABLE_NAMES.map((n) => `\${${n}}`).join(', ')})`,
  };
}

/** Expands every `${name}` in `text`; `cluster` is undefined while the cluster itself is expanded. */
export function expandVariables(text: string, facts: VariableFacts, cluster: string | undefined): Expansion {
  let out = '';
  let rest = text;
  for (;;) {
    const start = rest.indexOf('${');
    if (start < 0) return { ok: true, value: out + rest };
    const end = rest.indexOf('}', start + 2);
    if (end < 0) return { ok: false, message: 'unterminated "${" (variables are written ${name})' };
    const name = rest.slice(start + 2, end);
    const found = lookup(name, facts, cluster);
    if ('error' in found) return { ok: false, message: found.error };
    if (found.value.includes('${')) {
      return { ok: false, message: `\${${name}} expands to text containing "\${", which is not allowed` };
    }
    out += rest.slice(0, start) + found.value;
    rest = rest.slice(end + 1);
  }
}

const EC2_REFERENCE = /\$\{ec2\./;

/**
 * True when some string value of the config refers to `${ec2.*}`, so the app fetches instance
 * metadata only then. Comments do not count; text that is not valid YAML falls back to a plain
 * search (parseConfig will reject it anyway).
 */
export function needsEc2(text: string): boolean {
  if (!EC2_REFERENCE.test(text)) return false;
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return true;
  let found = false;
  visit(doc, {
    Scalar(key, node, path) {
      // Map keys are never expanded; only values are.
      const parent = path[path.length - 1];
      if (key === 'key' && isPair(parent)) return undefined;
      if (typeof node.value === 'string' && EC2_REFERENCE.test(node.value)) {
        found = true;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}
