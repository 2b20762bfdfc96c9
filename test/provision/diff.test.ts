import { describe, expect, it } from 'vitest';
import {
  computeDesiredState,
  type DesiredResource,
  type FieldValue,
} from '../../src/provision/desired-state.js';
import { formatPlan, planChanges } from '../../src/provision/diff.js';
import { parseProvisionFile } from '../../src/provision/provision-file.js';
import { resolveProvisionSettings } from '../../src/provision/provision-settings.js';

const settings = () => resolveProvisionSettings({ cluster: 'c1' }, parseProvisionFile(''));

describe('diff', () => {
  /** The plan for one resource against what Vault has for it (undefined: nothing there). */
  const planOne = (resource: DesiredResource, observed: Record<string, unknown> | undefined) =>
    planChanges(
      { resources: [resource], reach: [], notes: [] },
      new Map(observed === undefined ? [] : [[resource.id, observed]]),
    ).changes[0];

  it('compares in Vault terms: seconds, sets, comma lists', () => {
    const role = computeDesiredState(settings(), 'http://v').resources.find((r) => r.kind === 'role');
    if (!role) throw new Error('missing');
    const same = (desired: FieldValue, observed: unknown) =>
      planOne({ ...role, fields: { x: desired } }, { x: observed }) === undefined;
    expect(same(['b', 'a'], ['a', 'b'])).toBe(true);
    expect(same(['a'], 'a')).toBe(true);
    expect(same([], null)).toBe(true);
    expect(same(3600, 3600)).toBe(true);
    expect(same(3600, 7200)).toBe(false);
    expect(same(false, true)).toBe(false);
  });

  it('never replaces an existing CA and refuses a mount of another type', () => {
    const s = computeDesiredState(settings(), 'http://v');
    const ca = s.resources.find((r) => r.kind === 'ca');
    const mount = s.resources.find((r) => r.kind === 'mount');
    if (!ca || !mount) throw new Error('missing');
    expect(planOne(ca, { present: true })).toBeUndefined();
    expect(planOne(mount, { type: 'kv', max_lease_ttl: 0 })).toMatchObject({ action: 'conflict' });
    expect(planOne(mount, { type: 'pki', max_lease_ttl: 0 })).toMatchObject({
      action: 'update',
      fields: [{ field: 'max_lease_ttl', from: 0, to: 87600 * 3600 }],
    });
  });

  it('formatPlan marks updates, conflicts and notes, and counts what is up to date', () => {
    const s = computeDesiredState(settings(), 'http://v');
    const mount = s.resources.find((r) => r.kind === 'mount');
    const ca = s.resources.find((r) => r.kind === 'ca');
    if (!mount || !ca) throw new Error('missing');
    const update = planChanges(
      { resources: [mount, ca], reach: ['worker: node names'], notes: ['a note'] },
      new Map<string, Record<string, unknown>>([
        [mount.id, { type: 'pki', max_lease_ttl: 0 }],
        [ca.id, { present: true }],
      ]),
    );
    expect(update.unchanged).toBe(1);
    expect(formatPlan(update)).toBe(
      `~ ${mount.id}: max_lease_ttl: 0 -> ${87600 * 3600}\n# worker: node names\n# a note\n1 to change, 1 up to date\n`,
    );
    const conflict = planChanges(
      { resources: [mount], reach: [], notes: [] },
      new Map([[mount.id, { type: 'kv' }]]),
    );
    expect(formatPlan(conflict)).toMatch(new RegExp(`^! ${mount.id}: .+\n1 to change, 0 up to date\n$`));
    const none = planChanges(
      { resources: [ca], reach: [], notes: [] },
      new Map([[ca.id, { present: true }]]),
    );
    expect(formatPlan(none)).toBe('no changes (1 resources up to date)\n');
  });
});
