/**
 * Which actions run after a pass, in which order (pure). The caller runs the plan only after every
 * changed set of the pass is written, so "after all sets that feed it" holds for each unit; this
 * function makes sure each unit appears once, at the place of its first appearance in config order,
 * and that unchanged sets trigger nothing.
 */
import type { CertSpec, SystemdVerb } from '../config/types.js';

export type PlannedAction =
  | {
      kind: 'systemd';
      unit: string;
      action: SystemdVerb;
      /** Start the unit if it is not running (otherwise an inactive unit is left alone). */
      start: boolean;
      /** The changed certificates that feed this unit, in config order. */
      certNames: string[];
    }
  | {
      kind: 'exec';
      argv: string[];
      /** Exported to the command as VPA_CERT_NAME / VPA_CERT_DIR. */
      certName: string;
      certDir: string;
    };

// When two sets ask the same unit for different verbs, the stronger one covers the weaker.
const STRENGTH: Record<SystemdVerb, number> = {
  start: -1,
  reload: 0,
  'try-reload-or-restart': 1,
  restart: 2,
};

export function planActions(
  changedCertNames: readonly string[],
  specs: readonly CertSpec[],
): PlannedAction[] {
  const changed = new Set(changedCertNames);
  const planned: PlannedAction[] = [];
  const byUnit = new Map<string, Extract<PlannedAction, { kind: 'systemd' }>>();
  for (const spec of specs) {
    if (!changed.has(spec.name)) continue;
    for (const action of spec.actions) {
      if (action.kind === 'exec') {
        planned.push({ kind: 'exec', argv: [...action.argv], certName: spec.name, certDir: spec.files.dir });
        continue;
      }
      const existing = byUnit.get(action.unit);
      if (existing) {
        if (STRENGTH[action.action] > STRENGTH[existing.action]) existing.action = action.action;
        existing.start ||= action.start;
        if (!existing.certNames.includes(spec.name)) existing.certNames.push(spec.name);
        continue;
      }
      const entry = {
        kind: 'systemd' as const,
        unit: action.unit,
        action: action.action,
        start: action.start,
        certNames: [spec.name],
      };
      byUnit.set(action.unit, entry);
      planned.push(entry);
    }
  }
  return planned;
}
