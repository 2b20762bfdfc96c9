/**
 * `--help` as a person reads it (issue 14): the bundled agent's help never breaks a word, and every command shows
 * worked examples. cliui's ES module entry wraps by counting characters; the build gives it a word wrap
 * (scripts/build/cliui-words.mjs).
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM build helper without types
import { wrapWords } from '../../scripts/build/cliui-words.mjs';
import { COMMANDS } from '../../src/cli/commands.js';
import { runAgent } from '../support/agent.js';

const collapse = (text: string) => text.replace(/\s+/g, ' ');
const wrap = wrapWords as (text: string, width: number) => string;

describe('help text', () => {
  it('the top-level help shows every command description whole (no word broken across lines)', async () => {
    const run = await runAgent(['--help'], { env: {} });
    expect(run.code).toBe(0);
    for (const command of COMMANDS) expect(collapse(run.stdout)).toContain(collapse(command.describe));
  });

  it.each(COMMANDS.map((c) => [c.command.split(' ')[0] as string, c] as const))(
    '%s --help: its description whole and worked examples',
    async (name, command) => {
      const argv = name === 'token' ? ['token', 'create', '--help'] : [name, '--help'];
      const run = await runAgent(argv, { env: {} });
      expect(run.code, run.stderr).toBe(0);
      expect(collapse(run.stdout)).toContain(collapse(command.describe));
      expect(command.examples?.length ?? 0).toBeGreaterThan(0);
      expect(run.stdout).toContain('Examples:');
      const words = new Set(run.stdout.split(/\s+/));
      for (const [line, what] of command.examples ?? []) {
        for (const word of [...line.split(' '), ...what.split(' ')]) expect(words, word).toContain(word);
      }
    },
  );

  it('wraps between words at any width, cutting only a word longer than a line', () => {
    const text = 'issue every certificate that is missing, changed or due; write each set atomically';
    for (const width of [80, 40, 17, 12]) {
      const lines = wrap(text, width).split('\n');
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(width);
      expect(lines.join(' ')).toBe(text);
    }
    expect(wrap('abcdefghij klm', 4).split('\n')).toEqual(['abcd', 'efgh', 'ij', 'klm']);
  });
});
