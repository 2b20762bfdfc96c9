/**
 * Variable expansion, the pass before validation: every string value of the config (not the keys) with its
 * `${...}` variables replaced, so that the schema (schema.ts, built once) checks `${env.DIR}/pki` as the path it
 * becomes. The cluster is expanded first, without `${cluster}`, since every other value may refer to it.
 * A value that cannot be expanded stays as written and is reported at its path.
 */

import { expandVariables, type VariableFacts } from './variables.js';
import type { ConfigIssue } from './yaml-source.js';

const CLUSTER = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface ExpandedValues {
  value: Record<string, unknown>;
  /** One per value that could not be expanded, at its path. */
  failures: ConfigIssue[];
}

/** The cluster a `${cluster}` elsewhere stands for: undefined when the cluster itself is not valid. */
function clusterOf(root: Record<string, unknown>, facts: VariableFacts): string | undefined {
  if (typeof root.cluster !== 'string') return undefined;
  const expanded = expandVariables(root.cluster, facts, undefined);
  return expanded.ok && CLUSTER.test(expanded.value) ? expanded.value : undefined;
}

export function expandValues(root: Record<string, unknown>, facts: VariableFacts): ExpandedValues {
  const cluster = clusterOf(root, facts);
  const failures: ConfigIssue[] = [];
  // YAML aliases make the document a graph (even a cycle): each mapping or list is copied once.
  const copies = new Map<object, unknown>();
  const walk = (value: unknown, path: (string | number)[]): unknown => {
    if (typeof value === 'string') {
      const self = path.length === 1 && path[0] === 'cluster';
      const result = expandVariables(value, facts, self ? undefined : cluster);
      if (result.ok) return result.value;
      failures.push({ path, message: result.message });
      return value;
    }
    if (typeof value !== 'object' || value === null) return value;
    const known = copies.get(value);
    if (known !== undefined) return known;
    if (Array.isArray(value)) {
      const copy: unknown[] = [];
      copies.set(value, copy);
      value.forEach((item, index) => {
        copy.push(walk(item, [...path, index]));
      });
      return copy;
    }
    const copy: Record<string, unknown> = {};
    copies.set(value, copy);
    for (const [key, item] of Object.entries(value)) copy[key] = walk(item, [...path, key]);
    return copy;
  };
  return { value: walk(root, []) as Record<string, unknown>, failures };
}
