/**
 * Desired vs observed Vault state -> the changes to make, and the plan text operators read.
 * Pure. Only the fields provision manages are compared; Vault's other role fields are left alone.
 */
import { formatDuration } from '../util/duration.js';
import type { DesiredResource, DesiredState, FieldValue } from './desired-state.js';

/** What Vault reports for each resource id; undefined = it does not exist. */
export type ObservedState = ReadonlyMap<string, Record<string, unknown> | undefined>;

export interface FieldChange {
  field: string;
  from: unknown;
  to: FieldValue;
}

export type Change =
  | { action: 'create'; resource: DesiredResource }
  | { action: 'update'; resource: DesiredResource; fields: FieldChange[] }
  /** Exists in a shape provision must not repair on its own (e.g. a mount of another type). */
  | { action: 'conflict'; resource: DesiredResource; reason: string };

export interface Plan {
  changes: Change[];
  unchanged: number;
  /** Per node type, the names it can obtain once the plan is applied. */
  reach: string[];
  notes: string[];
}

/** Fields older servers do not have (OpenBao's allowed_ip_sans_cidr): absent from an answer = unsupported. */
const OPTIONAL_FIELDS = new Set(['allowed_ip_sans_cidr']);

function normaliseArray(value: unknown): string[] {
  if (value === null || value === undefined || value === '') return [];
  if (Array.isArray(value)) return value.map(String).sort();
  return String(value)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
}

/** Equal in Vault's meaning: durations as seconds, lists as sets, "a,b" as a list. */
function sameValue(desired: FieldValue, observed: unknown): boolean {
  if (Array.isArray(desired)) {
    const a = [...desired].sort();
    const b = normaliseArray(observed);
    return a.length === b.length && a.every((v, i) => v === b[i]);
  }
  if (typeof desired === 'number') return Number(observed ?? 0) === desired;
  if (typeof desired === 'boolean') return observed === desired || observed === String(desired);
  if (typeof observed !== 'string') return false;
  // Policy text: Vault stores it as sent; ignore trailing whitespace only.
  return observed.trimEnd() === desired.trimEnd();
}

function diffResource(
  resource: DesiredResource,
  observed: Record<string, unknown> | undefined,
): Change | undefined {
  if (observed === undefined) return { action: 'create', resource };
  if (resource.kind === 'mount' && observed.type !== resource.fields.type) {
    return {
      action: 'conflict',
      resource,
      reason: `a ${String(observed.type)} engine is mounted at ${resource.path}, not pki`,
    };
  }
  // A CA that exists is never replaced here: rotating a CA is a decision, not drift.
  if (resource.kind === 'ca') return undefined;
  const fields: FieldChange[] = [];
  for (const [field, to] of Object.entries(resource.fields)) {
    if (resource.kind === 'mount' && field === 'type') continue;
    if (OPTIONAL_FIELDS.has(field) && !(field in observed)) continue;
    if (!sameValue(to, observed[field])) fields.push({ field, from: observed[field], to });
  }
  return fields.length > 0 ? { action: 'update', resource, fields } : undefined;
}

export function planChanges(desired: DesiredState, observed: ObservedState): Plan {
  const changes: Change[] = [];
  let unchanged = 0;
  for (const resource of desired.resources) {
    const change = diffResource(resource, observed.get(resource.id));
    if (change) changes.push(change);
    else unchanged++;
  }
  return { changes, unchanged, reach: desired.reach, notes: desired.notes };
}

function show(value: unknown): string {
  if (value === undefined || value === null) return '(unset)';
  if (typeof value === 'string')
    return value.includes('\n') ? `(${value.split('\n').length} lines)` : JSON.stringify(value);
  return JSON.stringify(value);
}

function describeCreate(resource: DesiredResource): string {
  switch (resource.kind) {
    case 'mount':
      return `pki, max_lease_ttl ${formatDuration(Number(resource.fields.max_lease_ttl))}`;
    case 'ca':
      return resource.parent
        ? `intermediate CA "${resource.commonName}" signed by ${resource.parent} (${resource.keyType} ${resource.keyBits})`
        : `internal root CA "${resource.commonName}" (${resource.keyType} ${resource.keyBits})`;
    case 'role':
      return `for ${resource.presets.join(', ')}`;
    case 'policy':
      return `node type ${resource.nodeType}`;
    case 'urls':
      return `issuing ${(resource.fields.issuing_certificates as string[]).join(',')}`;
    case 'auto-tidy':
      return `tidy expired and revoked certificates every ${formatDuration(Number(resource.fields.interval_duration))}`;
    case 'token-role':
      return `periodic orphan tokens with policy ${(resource.fields.allowed_policies as string[]).join(',')}`;
    default:
      return '';
  }
}

/** The plan as operators read it: `+` create, `~` update (one line per field), `!` conflict. */
export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  for (const change of plan.changes) {
    const r = change.resource;
    if (change.action === 'create') lines.push(`+ ${r.id}: ${describeCreate(r)}`);
    else if (change.action === 'conflict') lines.push(`! ${r.id}: ${change.reason}`);
    else for (const f of change.fields) lines.push(`~ ${r.id}: ${f.field}: ${show(f.from)} -> ${show(f.to)}`);
  }
  for (const line of plan.reach) lines.push(`# ${line}`);
  for (const note of plan.notes) lines.push(`# ${note}`);
  lines.push(
    plan.changes.length === 0
      ? `no changes (${plan.unchanged} resources up to date)`
      : `${plan.changes.length} to change, ${plan.unchanged} up to date`,
  );
  return `${lines.join('\n')}\n`;
}
