import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import type { PlannedAction } from '../../src/plan/actions.js';
import { ActionsFailedError, runActions } from '../../src/services/run-actions.js';
import { SystemctlServiceManager } from '../../src/services/service-manager.js';
// FAKE systemctl: active/failing/hanging per unit, case by case in one process; real systemd: test/system.
import { createFakeSystemctl, type FakeSystemctlSetup } from '../support/fake-systemctl/index.js';
import { createMemoryLogger } from '../support/memory-logger.js';

const unit = (name: string, start = false, certNames = ['c']): PlannedAction => ({
  kind: 'systemd',
  unit: name,
  action: 'restart',
  start,
  certNames,
});

function setup(state: FakeSystemctlSetup, timeoutMs?: number) {
  const fake = createFakeSystemctl(state);
  const services = new SystemctlServiceManager({ binary: fake.binary, env: fake.env, timeoutMs });
  const log = createMemoryLogger();
  return { fake, services, log };
}

async function captureFailure(promise: Promise<unknown>): Promise<ActionsFailedError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof ActionsFailedError) return e;
    throw e;
  }
  throw new Error('expected the actions to fail');
}

describe('runActions with the fake systemctl', () => {
  it('restarts active units and leaves inactive ones alone', async () => {
    const { fake, services, log } = setup({ active: ['etcd.service'] });
    const records = await runActions([unit('etcd.service'), unit('kubelet.service')], {
      services,
      log,
      atBoot: true,
    });
    expect(fake.calls()).toEqual([
      'is-active --quiet etcd.service',
      'restart etcd.service',
      'is-active --quiet kubelet.service',
    ]);
    expect(records.map((r) => `${r.target} ${r.outcome}`)).toEqual([
      'etcd.service ran',
      'kubelet.service skipped-inactive',
    ]);
    expect(log.lines.join('\n')).toMatch(/unit not started yet.*unit=kubelet.service/);
  });

  it('starts an inactive unit whose action says start: true', async () => {
    const { fake, services, log } = setup({ active: [] });
    const records = await runActions([unit('kube-apiserver.service', true)], { services, log, atBoot: true });
    expect(fake.calls()).toEqual([
      'is-active --quiet kube-apiserver.service',
      'start kube-apiserver.service',
    ]);
    expect(records[0]).toMatchObject({ outcome: 'started', verb: 'start' });
  });

  it('action start: starts the unit when it is not running, and never restarts a running one (it reloads its files itself)', async () => {
    const { fake, services, log } = setup({ active: ['kube-apiserver.service'] });
    const startOnly = (name: string): PlannedAction => ({
      kind: 'systemd',
      unit: name,
      action: 'start',
      start: false,
      certNames: ['c'],
    });
    const records = await runActions(
      [startOnly('kube-apiserver.service'), startOnly('kube-scheduler.service')],
      {
        services,
        log,
        atBoot: true,
      },
    );
    expect(fake.calls()).toEqual([
      'is-active --quiet kube-apiserver.service',
      'is-active --quiet kube-scheduler.service',
      'start kube-scheduler.service',
    ]);
    expect(records.map((r) => `${r.target} ${r.outcome}`)).toEqual([
      'kube-apiserver.service left-running',
      'kube-scheduler.service started',
    ]);
    expect(log.lines.join('\n')).toMatch(
      /reads the renewed files by itself: left running.*unit=kube-apiserver.service/,
    );
  });

  it('runs everything, then fails with exit 6 naming every failed unit', async () => {
    const { fake, services, log } = setup({
      active: ['etcd.service', 'kube-apiserver.service', 'kubelet.service'],
      fail: ['etcd.service', 'kubelet.service'],
    });
    const error = await captureFailure(
      runActions([unit('etcd.service'), unit('kube-apiserver.service'), unit('kubelet.service')], {
        services,
        log,
        atBoot: false,
      }),
    );
    expect(error.exitCode).toBe(ExitCode.writeOrAction);
    expect(error.code).toBe('action-failed');
    expect(error.message).toContain('2 action(s) failed');
    expect(error.message).toContain('restart etcd.service failed with exit code 1');
    expect(error.message).toContain('restart kubelet.service failed with exit code 1');
    expect(error.details.failed).toBe('etcd.service,kubelet.service');
    // the unit between the two failures still ran
    expect(fake.calls()).toContain('restart kube-apiserver.service');
    expect(error.records.map((r) => r.outcome)).toEqual(['failed', 'ran', 'failed']);
  });

  it('a hanging unit is killed at its timeout and fails the run with exit 6', async () => {
    const { fake, services, log } = setup(
      { active: ['etcd.service', 'kubelet.service'], hang: ['etcd.service'] },
      300,
    );
    const error = await captureFailure(
      runActions([unit('etcd.service'), unit('kubelet.service')], { services, log, atBoot: false }),
    );
    expect(error.exitCode).toBe(ExitCode.writeOrAction);
    expect(error.message).toContain('etcd.service timed out after 300ms and was killed');
    expect(error.records.map((r) => r.outcome)).toEqual(['failed', 'ran']);
    expect(fake.hungPids()).toHaveLength(1);
  });

  it('runs exec actions with the certificate env, argv untouched', async () => {
    const { services, log } = setup({});
    const dir = mkdtempSync(join(tmpdir(), 'vpa-run-actions-'));
    const out = join(dir, 'out');
    const script = `require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify([process.argv.slice(1), process.env.VPA_CERT_NAME, process.env.VPA_CERT_DIR]))`;
    const records = await runActions(
      [
        {
          kind: 'exec',
          argv: [process.execPath, '-e', script, '$(id)'],
          certName: 'kubelet-client',
          certDir: '/k',
        },
      ],
      { services, log, atBoot: false },
    );
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual([['$(id)'], 'kubelet-client', '/k']);
    expect(records).toEqual([
      { kind: 'exec', target: process.execPath, certNames: ['kubelet-client'], outcome: 'ran' },
    ]);
  });

  it('a failing exec action is collected with the unit failures', async () => {
    const { services, log } = setup({ active: ['etcd.service'] });
    const error = await captureFailure(
      runActions(
        [{ kind: 'exec', argv: ['/nonexistent/notify'], certName: 'a', certDir: '/a' }, unit('etcd.service')],
        { services, log, atBoot: false },
      ),
    );
    expect(error.records.map((r) => `${r.target} ${r.outcome}`)).toEqual([
      '/nonexistent/notify failed',
      'etcd.service ran',
    ]);
    expect(error.message).toContain('/nonexistent/notify');
  });
});
