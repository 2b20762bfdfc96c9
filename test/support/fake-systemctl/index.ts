/**
 * Helpers around the FAKE systemctl script next to this file (see its header for the knobs).
 * Each test gets its own log file, so tests can run side by side.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const FAKE_SYSTEMCTL = resolve(import.meta.dirname, 'systemctl');

export interface FakeSystemctlSetup {
  active?: string[];
  fail?: string[];
  hang?: string[];
}

export interface FakeSystemctl {
  binary: string;
  env: Record<string, string>;
  logFile: string;
  /** One entry per invocation: its argv joined by spaces. */
  calls(): string[];
  /** PIDs of invocations that hung. */
  hungPids(): number[];
}

function readLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

export function createFakeSystemctl(setup: FakeSystemctlSetup = {}): FakeSystemctl {
  const logFile = join(mkdtempSync(join(tmpdir(), 'vpa-fake-systemctl-')), 'calls.log');
  return {
    binary: FAKE_SYSTEMCTL,
    logFile,
    env: {
      FAKE_SYSTEMCTL_LOG: logFile,
      FAKE_SYSTEMCTL_ACTIVE: (setup.active ?? []).join(','),
      FAKE_SYSTEMCTL_FAIL: (setup.fail ?? []).join(','),
      FAKE_SYSTEMCTL_HANG: (setup.hang ?? []).join(','),
    },
    calls: () => readLines(logFile),
    hungPids: () => readLines(`${logFile}.pids`).map(Number),
  };
}
