/**
 * The plain command lines, parsed without yargs. Loading yargs, building the parser and letting it cache a
 * help text it never prints costs ~15 ms at every start: more than the agent's whole exchange with Vault
 * (docs/PERFORMANCE.md). The units, cloud-init and kubectl's exec plugin use only the forms accepted here,
 * `command --string value`, `--string=value` and `--boolean`, which this turns into exactly the object yargs
 * hands the command (test/cli/fast-argv.test.ts compares the two over generated command lines).
 *
 * Anything else returns undefined and goes to yargs, which parses or rejects it as it always did: help,
 * `--version`, short or `--no-` flags, repeated, unknown or array flags, positionals, a flag value that
 * starts with `-` or is empty, a value outside its choices, a missing required flag.
 */
import type { OptionTable } from './options.js';

export interface FastCommand {
  command: string;
  options: OptionTable;
  positionals?: unknown;
}

export interface Invocation<C> {
  command: C;
  args: Record<string, unknown>;
}

const FLAG_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const camelCase = (name: string) => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export function fastParse<C extends FastCommand>(
  argv: readonly string[],
  commands: readonly C[],
  globals: OptionTable,
  scriptName: string,
): Invocation<C> | undefined {
  const command = commands.find((c) => c.command === argv[0] && c.positionals === undefined);
  if (!command) return undefined;
  const given = new Map<string, string | boolean>();
  for (let i = 1; i < argv.length; i++) {
    const token = argv[i] as string;
    if (!token.startsWith('--')) return undefined;
    const eq = token.indexOf('=');
    const name = eq < 0 ? token.slice(2) : token.slice(2, eq);
    if (!FLAG_NAME.test(name) || name.startsWith('no-') || given.has(name)) return undefined;
    const spec = Object.hasOwn(command.options, name)
      ? command.options[name]
      : Object.hasOwn(globals, name)
        ? globals[name]
        : undefined;
    if (!spec || spec.array) return undefined;
    if (spec.type === 'boolean') {
      // `--flag=false`, or a following `true`/`false` (which yargs takes as the value, and which the next
      // round refuses as a positional), are left to yargs.
      if (eq >= 0) return undefined;
      given.set(name, true);
      continue;
    }
    if (spec.type === undefined && spec.choices === undefined) return undefined;
    const value = eq >= 0 ? token.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return undefined;
    // yargs strips one pair of surrounding quotes from a value (`--cluster='c1'` is c1): left to yargs.
    if (/^(['"]).*\1$/s.test(value)) return undefined;
    if (spec.choices && !spec.choices.includes(value)) return undefined;
    given.set(name, value);
  }
  const args: Record<string, unknown> = { _: [command.command], $0: scriptName };
  for (const table of [globals, command.options]) {
    for (const [name, spec] of Object.entries(table)) {
      const value = given.get(name) ?? spec.default;
      if (value === undefined) {
        if (spec.demandOption) return undefined;
        continue;
      }
      args[name] = value;
      args[camelCase(name)] = value;
    }
  }
  return { command, args };
}
