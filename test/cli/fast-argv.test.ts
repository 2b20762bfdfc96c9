/**
 * The yargs-free parser (src/cli/fast-argv.ts) against yargs itself: for generated command lines, whenever
 * the fast path takes one, the command and arguments must equal what yargs hands the command. Lines it does
 * not take go to yargs unchanged, so the fast path can never accept what yargs would reject.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/app/cli-context.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { GLOBAL_OPTIONS } from '../../src/cli/global-options.js';
import { fastInvocation, yargsInvocation } from '../../src/cli/run-cli.js';

const quietIo = (): CliIo & { out: string[] } => {
  const out: string[] = [];
  return { out, stdout: (t) => out.push(t), stderr: (t) => out.push(t), env: {} };
};

const commandNames = COMMANDS.map((c) => c.command.split(' ')[0] as string);
const allFlags = [
  ...new Set([...Object.keys(GLOBAL_OPTIONS), ...COMMANDS.flatMap((c) => Object.keys(c.options))]),
];
const choiceValues = [
  ...new Set(
    [...Object.values(GLOBAL_OPTIONS), ...COMMANDS.flatMap((c) => Object.values(c.options))].flatMap(
      (o) => o.choices ?? [],
    ),
  ),
];

const value = fc.oneof(
  fc.constantFrom(...choiceValues, 'true', 'false', '0', '12', '5m', '/etc/x.yaml', 'a=b', 'c1', ' ', 'é'),
  fc.string({ maxLength: 8 }),
  fc.constantFrom('', '-x', '--config', '-1'),
);
const flagToken = fc.oneof(
  fc.tuple(fc.constantFrom(...allFlags), value).map(([f, v]) => [`--${f}`, v]),
  fc.tuple(fc.constantFrom(...allFlags), value).map(([f, v]) => [`--${f}=${v}`]),
  fc.constantFrom(...allFlags).map((f) => [`--${f}`]),
  fc.constantFrom(
    ['--help'],
    ['-h'],
    ['--version'],
    ['--no-dry-run'],
    ['--dryRun'],
    ['--logLevel', 'warn'],
    ['-x'],
    ['--'],
    ['create'],
    ['--bogus'],
  ),
);
const noisyLine = fc
  .tuple(
    fc.oneof(fc.constantFrom(...commandNames), fc.constant('nope'), fc.constant('--config')),
    fc.array(flagToken, { maxLength: 6 }),
  )
  .map(([command, flags]) => [command, ...flags.flat()]);

/** Lines built from one command's own flags with fitting values: most of them are for the fast path. */
const plausibleLine = fc.constantFrom(...COMMANDS).chain((command) => {
  const table = { ...GLOBAL_OPTIONS, ...command.options };
  const flag = fc.constantFrom(...Object.keys(table)).chain((name): fc.Arbitrary<string[]> => {
    const spec = table[name];
    if (spec?.type === 'boolean') return fc.constant([`--${name}`] as string[]);
    const v = spec?.choices
      ? fc.constantFrom(...spec.choices)
      : fc.oneof(fc.constantFrom('c1', '/etc/a b.yaml', 'true', '10', 'x=y', 'k8s/c1/pki'), fc.string());
    return fc.tuple(v, fc.boolean()).map(([x, joined]) => (joined ? [`--${name}=${x}`] : [`--${name}`, x]));
  });
  return fc
    .uniqueArray(flag, { maxLength: 7, selector: (f) => (f[0] as string).split('=')[0] })
    .map((flags) => [command.command.split(' ')[0] as string, ...flags.flat()]);
});

const commandLine = fc.oneof(noisyLine, plausibleLine);

describe('fast argv parser', () => {
  it('agrees with yargs on every command line it takes', async () => {
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(commandLine, async (argv) => {
        const fast = fastInvocation(argv);
        if (!fast) return;
        taken++;
        const io = quietIo();
        const slow = await yargsInvocation(argv, io);
        expect(io.out).toEqual([]);
        expect(slow?.command.command).toBe(fast.command.command);
        expect(fast.args).toEqual(slow?.args);
      }),
      { numRuns: 1500 },
    );
    // Not vacuous: a good share of the generated lines must take the fast path.
    expect(taken).toBeGreaterThan(300);
  });

  it('takes the command lines the shipped units and kubectl plugin entries use', async () => {
    const lines = ['vault-pki-agent.service', 'vault-pki-agent-renew.service', 'vault-pki-agent-run.service']
      .flatMap((unit) => readFileSync(new URL(`../../units/${unit}`, import.meta.url), 'utf8').split('\n'))
      .filter((l) => /^Exec(Start|Condition)=\/usr\/local\/bin\/vault-pki-agent /.test(l))
      .map((l) => l.split(' ').slice(1));
    expect(lines.length).toBe(4);
    const plugin = ['kube-credential', '--cluster', 'c1', '--mount', 'k8s/c1/pki', '--common-name', 'ada'];
    const bench = ['bootstrap', '--config', '/x/config.yaml', '--log-format', 'json', '--timeout', '10m'];
    for (const argv of [...lines, plugin, bench]) {
      const fast = fastInvocation(argv);
      expect(fast, argv.join(' ')).toBeDefined();
      expect(fast?.args).toEqual((await yargsInvocation(argv, quietIo()))?.args);
    }
    expect(fastInvocation(['bootstrap', '--config', '/c.yaml'])?.args).toMatchObject({
      config: '/c.yaml',
      logLevel: 'info',
      'log-format': 'text',
      dryRun: false,
    });
  });

  it.each([
    [['bootstrap', '--help']],
    [['bootstrap', '-h']],
    [['--version']],
    [['bootstrap', '--version']],
    [['bootstrap', '--only', 'a', 'b']],
    [['bootstrap', '--dry-run', 'true']],
    [['bootstrap', '--dry-run=false']],
    [['bootstrap', '--no-dry-run']],
    [['bootstrap', '--config', 'a', '--config', 'b']],
    [['bootstrap', '--config']],
    [['bootstrap', '--config=']],
    [['bootstrap', '--config', '-c']],
    [['kube-credential', "--cluster=''"]],
    [['bootstrap', '--config', '"/c.yaml"']],
    [['bootstrap', '--log-level', 'loud']],
    [['bootstrap', '--logLevel', 'warn']],
    [['bootstrap', 'extra']],
    [['bootstrap', '--bogus']],
    [['bootstrap', '--', '--config', 'x']],
    [['bootstrap', '--__proto__', 'x']],
    [['token', 'create', '--cluster', 'c', '--node-type', 'worker']],
    [['provision', '--plan']],
    [['nope']],
    [[]],
  ])('leaves %j to yargs', (argv) => {
    expect(fastInvocation(argv)).toBeUndefined();
  });
});
