/**
 * The loop over outputs besides the sets: outputs that read Vault are read only when the pass says so (`run`
 * reads them with the CAs, not at every wake), and a failing output does not stop the ones after it.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeOutputs } from '../../src/app/outputs.js';
import type { AgentConfig } from '../../src/config/types.js';
import type { VaultClient } from '../../src/vault/vault-client.js';
import { createMemoryLogger } from '../support/memory-logger.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vpa-outputs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A VaultClient stand-in whose `read` finds nothing (the secret `provision` creates is missing). */
function emptyVault() {
  const reads: string[] = [];
  const vault = {
    read: async (path: string) => {
      reads.push(path);
      return undefined;
    },
  } as unknown as VaultClient;
  return { vault, reads };
}

const config = (): AgentConfig => ({
  cluster: 'c1',
  vault: {} as AgentConfig['vault'],
  certificates: [],
  stateDir: join(dir, 'state'),
  serviceAccountKey: { key: join(dir, 'sa.key'), publicKeys: join(dir, 'sa.pub'), mount: 'k8s/c1/kv' },
});

describe('writeOutputs', () => {
  it('does not read Vault when told not to: nothing read, nothing written, no failure', async () => {
    const { vault, reads } = emptyVault();
    const result = await writeOutputs({
      config: config(),
      vault,
      log: createMemoryLogger(),
      readVault: false,
    });
    expect(result).toEqual({ written: [] });
    expect(reads).toEqual([]);
  });

  it("reads Vault when told to; a missing secret is that output's failure, no file written", async () => {
    const { vault, reads } = emptyVault();
    const log = createMemoryLogger();
    const result = await writeOutputs({ config: config(), vault, log, readVault: true });
    expect(reads).toEqual(['k8s/c1/kv/data/service-account']);
    expect(result.failure?.message).toMatch(/no service-account key at k8s\/c1\/kv\/data\/service-account/);
    expect(existsSync(join(dir, 'sa.key'))).toBe(false);
    expect(log.lines.join('\n')).toMatch(/service-account key failed/);
  });
});
