/**
 * The install-time warm-up (src/cli/warm-up.ts) must keep running: its sample config has to stay valid as the
 * schema evolves (the launcher swallows a failure so that an install never breaks, which would otherwise hide
 * it).
 */
import { describe, expect, it, vi } from 'vitest';
import { warmUp } from '../../src/cli/warm-up.js';
import * as csr from '../../src/pki/csr.js';

describe('warmUp', () => {
  it('parses its sample config and makes a key and CSR for each of the four certificates', async () => {
    const made = vi.spyOn(csr, 'createCsr');
    await expect(warmUp()).resolves.toBeUndefined();
    expect(made.mock.calls.map(([, subject]) => subject.commonName)).toEqual([
      'warm-up',
      'warm-up',
      'kube-apiserver',
      'system:node:warm-up',
    ]);
  });
});
