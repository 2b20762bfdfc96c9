/**
 * Every malformed config fixture, through the real command: exit 3, a message naming the line:column, the key
 * path (and so the certificate), and nothing on disk changes: the state dir and the sets' dirs stay absent.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent } from '../support/agent.js';
import { REPO_ROOT } from '../support/openbao.js';

const BAD = join(REPO_ROOT, 'test/fixtures/config/bad');
// Fixtures with a `# facts:` header need host facts this machine does not have (e.g. no IP address);
// test/config/bad-configs.test.ts covers them with injected facts.
const fixtures = readdirSync(BAD).filter(
  (f) => f.endsWith('.yaml') && !/^# facts:/m.test(readFileSync(join(BAD, f), 'utf8')),
);

function header(text: string, key: string): string | undefined {
  return new RegExp(`^# ${key}: (.*)$`, 'm').exec(text)?.[1]?.trim();
}

describe('bootstrap with a malformed config', () => {
  it('has at least 20 fixtures', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(20);
  });

  it.each(fixtures)('%s: exit 3, names the place and the key, writes nothing', async (name) => {
    const text = readFileSync(join(BAD, name), 'utf8');
    const dirs = [...text.matchAll(/dir: (\/[^\s},]+)/g)].map((m) => m[1] as string);
    const existedBefore = dirs.filter((d) => existsSync(d));
    const work = mkdtempSync(join(tmpdir(), 'vpa-bad-'));
    try {
      const config = join(work, 'config.yaml');
      copyFileSync(join(BAD, name), config);
      const run = await runAgent(['bootstrap', '--config', config], {
        // Off EC2: the metadata endpoint refuses at once instead of timing out.
        env: { VPA_IMDS_ENDPOINT: 'http://127.0.0.1:1', HOME: work, API_LB: 'api.example.internal' },
      });
      expect(run.code, run.stderr).toBe(3);
      const at = header(text, 'at');
      const key = header(text, 'key');
      const expectText = header(text, 'expect');
      if (name !== 'ec2-without-metadata.yaml') {
        if (at) expect(run.stderr).toContain(`line ${at}`);
        if (expectText) expect(run.stderr).toContain(expectText.replace(/"/g, '\\"'));
      }
      if (key && name !== 'ec2-without-metadata.yaml') expect(run.stderr).toContain(key.split('[')[0]);
      expect(readdirSync(work)).toEqual(['config.yaml']);
      for (const d of dirs) if (!existedBefore.includes(d)) expect(existsSync(d), d).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
