import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/openbao.js';

describe('no core dumps of the agent (the token and keys are in its memory)', () => {
  it.each(['vault-pki-agent.service', 'vault-pki-agent-renew.service', 'vault-pki-agent-run.service'])(
    '%s sets LimitCORE=0',
    (unit) => {
      const text = readFileSync(join(REPO_ROOT, 'units', unit), 'utf8');
      expect(text).toMatch(/^LimitCORE=0$/m);
    },
  );
});
