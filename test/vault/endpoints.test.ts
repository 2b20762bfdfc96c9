import { describe, expect, it } from 'vitest';
import { EndpointPool } from '../../src/vault/endpoints.js';

const A = 'https://vault-1:8200';
const B = 'https://vault-2:8200';
const C = 'https://vault-3:8200';

describe('EndpointPool', () => {
  it('starts on the first address and stays there while it serves', () => {
    const pool = new EndpointPool([A, B, C]);
    expect(pool.current).toBe(A);
    pool.succeeded(A);
    expect(pool.current).toBe(A);
  });

  it('moves to the next address at once, and backs off only after every address failed in a round', () => {
    const pool = new EndpointPool([A, B, C]);
    expect(pool.failover(A)).toBe(true);
    expect(pool.current).toBe(B);
    expect(pool.failover(B)).toBe(true);
    expect(pool.current).toBe(C);
    expect(pool.failover(C)).toBe(false); // all three failed: back off, then a new round
    expect(pool.current).toBe(A);
    expect(pool.failover(A)).toBe(true);
    expect(pool.current).toBe(B);
  });

  it('a success ends the round: the next failure moves on without backing off', () => {
    const pool = new EndpointPool([A, B]);
    expect(pool.failover(A)).toBe(true);
    pool.succeeded(B);
    expect(pool.failover(B)).toBe(true);
    expect(pool.current).toBe(A);
  });

  it('concurrent callers failing on the same dead address move the pool once', () => {
    const pool = new EndpointPool([A, B, C]);
    expect(pool.failover(A)).toBe(true);
    expect(pool.failover(A)).toBe(true); // a second request that was in flight to A
    expect(pool.current).toBe(B);
  });

  it('one address: every failure is a round of its own (back off each time)', () => {
    const pool = new EndpointPool([A]);
    expect(pool.failover(A)).toBe(false);
    expect(pool.current).toBe(A);
  });

  it('follows a redirect only to a configured origin', () => {
    const pool = new EndpointPool([A, B]);
    expect(pool.configuredOrigin('https://vault-2:8200/v1/pki/sign/r')).toBe(B);
    expect(pool.configuredOrigin('https://evil.example:8200/v1/pki/sign/r')).toBeUndefined();
    expect(pool.configuredOrigin('http://vault-2:8200/v1/x')).toBeUndefined(); // scheme counts
    expect(pool.configuredOrigin('not a url')).toBeUndefined();
  });
});
