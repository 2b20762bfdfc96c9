/** How a command that fails before it runs reports it: in the log format asked for, either spelling. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent } from '../support/agent.js';

describe('errors before the command runs', () => {
  it.for([['--log-format', 'json'], ['--log-format=json']])(
    '%s: the error is a JSON log line',
    async (flag) => {
      const run = await runAgent(['check', '--config', join('/nonexistent', 'config.yaml'), ...flag]);
      expect(run.code).toBe(3);
      const line = JSON.parse(run.stderr.trim().split('\n')[0] as string);
      expect(line).toMatchObject({ level: 'error', code: 'config', exit: '3' });
      expect(line.msg).toMatch(/cannot read config file/);
    },
  );
});
