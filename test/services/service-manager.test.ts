import { describe, expect, it } from 'vitest';
import { AgentError, ExitCode, WriteError } from '../../src/errors.js';
import { SystemctlServiceManager } from '../../src/services/service-manager.js';
// FAKE systemctl: the adapter's handling of each systemctl answer, chosen per case; real systemd: test/system.
import { createFakeSystemctl } from '../support/fake-systemctl/index.js';
import { isAlive } from '../support/guarded-process.js';

async function captureError(promise: Promise<unknown>): Promise<AgentError> {
  try {
    await promise;
  } catch (e) {
    if (AgentError.is(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('SystemctlServiceManager (with the fake systemctl)', () => {
  it('asks is-active --quiet and reports active and inactive units', async () => {
    const fake = createFakeSystemctl({ active: ['etcd.service'] });
    const services = new SystemctlServiceManager({ binary: fake.binary, env: fake.env });
    expect(await services.isActive('etcd.service')).toBe(true);
    expect(await services.isActive('kubelet.service')).toBe(false);
    expect(fake.calls()).toEqual(['is-active --quiet etcd.service', 'is-active --quiet kubelet.service']);
  });

  it('runs the verb with the unit as separate arguments', async () => {
    const fake = createFakeSystemctl();
    const services = new SystemctlServiceManager({ binary: fake.binary, env: fake.env });
    await services.run('etcd.service', 'try-reload-or-restart');
    expect(fake.calls()).toEqual(['try-reload-or-restart etcd.service']);
  });

  it('a failing unit is a WriteError naming unit, verb, exit code and stderr', async () => {
    const fake = createFakeSystemctl({ fail: ['etcd.service'] });
    const services = new SystemctlServiceManager({ binary: fake.binary, env: fake.env });
    const error = await captureError(services.run('etcd.service', 'restart'));
    expect(error).toBeInstanceOf(WriteError);
    expect(error.code).toBe('action-failed');
    expect(error.exitCode).toBe(ExitCode.writeOrAction);
    expect(error.message).toContain('restart etcd.service failed with exit code 1');
    expect(error.message).toContain('journalctl -xeu etcd.service');
  });

  it('kills a hanging systemctl at its timeout', async () => {
    const fake = createFakeSystemctl({ hang: ['etcd.service'] });
    const services = new SystemctlServiceManager({ binary: fake.binary, env: fake.env, timeoutMs: 300 });
    const error = await captureError(services.run('etcd.service', 'restart'));
    expect(error.exitCode).toBe(ExitCode.writeOrAction);
    expect(error.message).toContain('restart etcd.service timed out after 300ms and was killed');
    const [pid] = fake.hungPids();
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid as number)).toBe(false);
  });

  it('a missing systemctl binary is an error, not "inactive"', async () => {
    const services = new SystemctlServiceManager({ binary: '/nonexistent/systemctl' });
    const error = await captureError(services.isActive('etcd.service'));
    expect(error.exitCode).toBe(ExitCode.writeOrAction);
    expect(error.message).toContain(
      '/nonexistent/systemctl is-active etcd.service could not be run (ENOENT)',
    );
  });

  it('uses VPA_SYSTEMCTL when no binary is given', () => {
    const previous = process.env.VPA_SYSTEMCTL;
    process.env.VPA_SYSTEMCTL = '/opt/fake/systemctl';
    try {
      expect(new SystemctlServiceManager().binary).toBe('/opt/fake/systemctl');
    } finally {
      if (previous === undefined) delete process.env.VPA_SYSTEMCTL;
      else process.env.VPA_SYSTEMCTL = previous;
    }
    expect(new SystemctlServiceManager({ binary: 'x' }).binary).toBe('x');
  });

  it('refuses a unit name that systemctl would read as an option', async () => {
    const fake = createFakeSystemctl();
    const services = new SystemctlServiceManager({ binary: fake.binary, env: fake.env });
    await expect(services.run('--force', 'restart')).rejects.toThrow(/refusing/);
    expect(fake.calls()).toEqual([]);
  });
});
