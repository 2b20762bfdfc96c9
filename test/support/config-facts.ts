/** Host facts the config tests expand variables against (plain data, nothing faked). */
import type { ConfigFacts } from '../../src/config/parse-config.js';

export const HOST = {
  hostname: 'node-1',
  fqdn: 'node-1.eu1.example.internal',
  ipv4: '10.0.1.5',
  ipv6: '2001:db8:0:0::5',
};

export function makeFacts(overrides: Partial<ConfigFacts> = {}): ConfigFacts {
  return { host: { ...HOST }, env: {}, ...overrides };
}

export const FIXTURES = new URL('../fixtures/config/', import.meta.url);
