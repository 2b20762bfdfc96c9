import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkAbsolutePath,
  checkHostPort,
  isDnsName,
  isSetFileName,
  isUnitName,
  normaliseIp,
  normalisePath,
  parseFraction,
  parseOctalMode,
} from '../../src/config/validate.js';

describe('normaliseIp', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['::1', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['10.0.0.256', undefined],
    ['010.0.0.1', undefined],
    ['fe80::1%eth0', undefined],
    ['node-1', undefined],
    ['', undefined],
  ])('%j -> %j', (input, want) => {
    expect(normaliseIp(input)).toBe(want);
  });
});

describe('parseFraction', () => {
  it.each([
    ['2/3', 2 / 3],
    ['1 / 2', 0.5],
    ['0.75', 0.75],
    ['75%', 0.75],
    [0.9, 0.9],
    ['3/2', undefined],
    ['1', undefined],
    ['0', undefined],
    [1, undefined],
    [0, undefined],
    ['1/0', undefined],
    ['two thirds', undefined],
    ['100%', undefined],
  ])('%j -> %j', (input, want) => {
    expect(parseFraction(input)).toBe(want);
  });
});

describe('parseOctalMode', () => {
  it.each([
    ['0644', 0o644],
    ['644', 0o644],
    ['0o750', 0o750],
    ['0600', 0o600],
    ['0o7777', 0o7777],
    ['0648', undefined],
    ['rw-r--r--', undefined],
    ['64', undefined],
  ])('%j -> %j', (input, want) => {
    expect(parseOctalMode(input)).toBe(want);
  });
});

describe('names and paths', () => {
  it.each([
    ['etcd.example.com', true],
    ['*.apps.example.com', true],
    ['localhost', true],
    ['kubernetes.default.svc.cluster.local', true],
    ['-bad.example.com', false],
    ['a..b', false],
    ['*', false],
    ['under_score.example.com', false],
    [`${'a'.repeat(64)}.com`, false],
    ['', false],
  ])('isDnsName(%j) = %s', (input, want) => {
    expect(isDnsName(input)).toBe(want);
  });

  it.each([
    ['etcd-member.service', true],
    ['kubelet', true],
    ['getty@tty1.service', true],
    ['--force', false],
    ['-x.service', false],
    ['a b.service', false],
  ])('isUnitName(%j) = %s', (input, want) => {
    expect(isUnitName(input)).toBe(want);
  });

  it.each([
    ['cert.pem', true],
    ['.hidden.pem', true],
    ['..data', false],
    ['.', false],
    ['a/b', false],
  ])('isSetFileName(%j) = %s', (input, want) => {
    expect(isSetFileName(input)).toBe(want);
  });

  it.each([
    ['/etc/etcd/pki', undefined],
    ['etc/etcd', 'must be an absolute path'],
    ['/etc/../root', 'must not contain ".." segments'],
    ['/etc/a\0b', 'must not contain NUL'],
  ])('checkAbsolutePath(%j) = %j', (input, want) => {
    expect(checkAbsolutePath(input)).toBe(want);
  });

  it('normalises duplicate and trailing slashes', () => {
    expect(normalisePath('/etc//etcd/pki/')).toBe('/etc/etcd/pki');
    expect(normalisePath('/')).toBe('/');
  });

  it.each([
    ['127.0.0.1:2379', undefined],
    ['etcd.example.com:2379', undefined],
    ['[::1]:6443', undefined],
    ['localhost', 'must be host:port (IPv6 as [addr]:port)'],
    ['::1:6443', 'must be host:port (IPv6 as [addr]:port)'],
    ['localhost:0', 'port must be 1-65535'],
    ['localhost:70000', 'port must be 1-65535'],
    ['[10.0.0.1]:443', 'brackets are only for IPv6 addresses'],
    ['bad_host:443', 'host must be a DNS name or an IP address'],
  ])('checkHostPort(%j) = %j', (input, want) => {
    expect(checkHostPort(input)).toBe(want);
  });
});

describe('purity of src/config', () => {
  it('imports no file system, process, execa or node-vault module', () => {
    const dir = new URL('../../src/config/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      expect(imports, file).not.toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^(node:)?(fs|fs\/promises|child_process)$|^execa$|^node-vault$/),
        ]),
      );
    }
  });
});
