/**
 * Option tables are typed from their command's Args, so a flag and its field cannot drift apart. Most of this
 * file is checked by the compiler (`npm run typecheck` covers test/): each `@ts-expect-error` line is a table
 * that must NOT compile, and tsc fails if one ever does. The runtime part checks the one cast defineCommand makes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { CliIo, GlobalArgs } from '../../src/app/cli-context.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { defineCommand, type FlagOf, type OptionsFor } from '../../src/cli/options.js';
import { REPO_ROOT } from '../support/openbao.js';

interface DemoArgs extends GlobalArgs {
  dryRun?: boolean;
  only?: string[];
  cluster: string;
  format?: 'text' | 'json';
  rotateServiceAccountKey?: boolean;
}
type Own = Omit<DemoArgs, keyof GlobalArgs>;

const GOOD: OptionsFor<Own> = {
  'dry-run': { type: 'boolean', default: false },
  only: { type: 'string', array: true },
  cluster: { type: 'string', demandOption: true },
  format: { choices: ['text', 'json'] },
  'rotate-service-account-key': { type: 'boolean' },
};

// Each of these is a drift the types refuse.
const REFUSED = [
  // @ts-expect-error a field without its flag (`only` is missing)
  { 'dry-run': { type: 'boolean' }, cluster: { type: 'string', demandOption: true } } satisfies OptionsFor<
    Pick<Own, 'dryRun' | 'only' | 'cluster'>
  >,
  // @ts-expect-error a flag without a field (`--dryrun` for dryRun)
  { dryrun: { type: 'boolean' } } satisfies OptionsFor<Pick<Own, 'dryRun'>>,
  // @ts-expect-error a string flag for a boolean field
  { 'dry-run': { type: 'string' } } satisfies OptionsFor<Pick<Own, 'dryRun'>>,
  // @ts-expect-error a single string flag for a string[] field
  { only: { type: 'string' } } satisfies OptionsFor<Pick<Own, 'only'>>,
  // @ts-expect-error a required field neither defaulted nor demanded
  { cluster: { type: 'string' } } satisfies OptionsFor<Pick<Own, 'cluster'>>,
  // @ts-expect-error a choice that is not a value of the field
  { format: { choices: ['text', 'jsn'] } } satisfies OptionsFor<Pick<Own, 'format'>>,
  // @ts-expect-error a default that is not a value of the field
  { format: { choices: ['text', 'json'], default: 'yaml' } } satisfies OptionsFor<Pick<Own, 'format'>>,
];

describe('typed option tables', () => {
  it('a field is named by its flag: camelCase to kebab-case', () => {
    expectTypeOf<FlagOf<'rotateServiceAccountKey'>>().toEqualTypeOf<'rotate-service-account-key'>();
    expectTypeOf<FlagOf<'only'>>().toEqualTypeOf<'only'>();
    expectTypeOf<keyof OptionsFor<Own>>().toEqualTypeOf<
      'dry-run' | 'only' | 'cluster' | 'format' | 'rotate-service-account-key'
    >();
    expect(Object.keys(GOOD)).toHaveLength(5);
    expect(REFUSED).toHaveLength(7);
  });

  it("defineCommand hands run the parser's record as the command's Args, and takes only a run of those Args", async () => {
    let seen: DemoArgs | undefined;
    const command = defineCommand<DemoArgs>({
      command: 'demo',
      describe: 'demo',
      options: GOOD,
      run: async (args) => {
        seen = args;
        return 7;
      },
    });
    const io: CliIo = { stdout: () => {}, stderr: () => {}, env: {} };
    const record = { cluster: 'c1', dryRun: true, 'dry-run': true };
    expect(await command.run(record, io)).toBe(7);
    expect(seen).toBe(record);
    defineCommand<DemoArgs>({
      command: 'demo',
      describe: 'demo',
      options: GOOD,
      // @ts-expect-error run must take the command's Args, not another shape
      run: async (args: { other: number }) => args.other,
    });
  });

  it('no command hands its Args over with a cast of its own: the one cast is in defineCommand', () => {
    const dir = join(REPO_ROOT, 'src/cli');
    const casts = readdirSync(dir).flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter((line) => /\bas (never|unknown as)\b/.test(line))
        .map((line) => `${f}: ${line.trim()}`),
    );
    expect(casts).toEqual([
      'options.ts: return { ...rest, run: (args, io) => run(args as unknown as A, io) };',
    ]);
    expect(COMMANDS.length).toBeGreaterThan(8);
  });
});
