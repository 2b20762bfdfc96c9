import { describe, expect, it } from 'vitest';
import { fileModeProblem, ttlProblem } from '../../src/config/limits.js';

describe('ttlProblem', () => {
  it('refuses a lifetime under 10 s and accepts 10 s and more', () => {
    expect(ttlProblem(9)).toBe(
      '9s is too short: a certificate must live at least 10s to be renewed before it expires',
    );
    expect(ttlProblem(0)).toMatch(/^0s is too short/);
    expect(ttlProblem(10)).toBeUndefined();
    expect(ttlProblem(86_400)).toBeUndefined();
  });
});

describe('fileModeProblem', () => {
  it('accepts modes no group or other can write', () => {
    for (const mode of [0o644, 0o640, 0o600, 0o755, 0o750, 0o700]) {
      expect(fileModeProblem(mode, 'certMode')).toBeUndefined();
      expect(fileModeProblem(mode, 'dirMode')).toBeUndefined();
    }
  });

  it('names who could write and what they could do, per key', () => {
    expect(fileModeProblem(0o664, 'certMode')).toBe(
      '"0664" lets the group rewrite the certificate files, ca.pem (the trust anchor) included: modes must not ' +
        'be writable by group or others (e.g. "0644" or "0640")',
    );
    expect(fileModeProblem(0o757, 'dirMode')).toBe(
      '"0757" lets every user on the host add, remove or replace entries in the set directory: modes must not ' +
        'be writable by group or others (e.g. "0750" or "0755")',
    );
    expect(fileModeProblem(0o20, 'certMode')).toMatch(/^"0020" lets the group/);
  });
});
