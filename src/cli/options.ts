/**
 * Flags as data. yargs builds the full parser and --help from these tables (run-cli.ts); fast-argv.ts
 * parses the plain forms the units, cloud-init and kubectl use without loading yargs at all.
 *
 * A command's table is typed from its Args (`OptionsFor<Args>`, through `defineCommand`): every field has its
 * flag (`dryRun` ↔ `--dry-run`) and no flag is without a field; a boolean field has a boolean flag, a string
 * array an array flag; a field that is not optional has a default or is demanded; choices are values of the
 * field. So a flag and its field cannot drift apart (test/cli/options.test.ts holds the types to that).
 */
import type { Argv, Options, PositionalOptions } from 'yargs';
import type { CliIo, GlobalArgs } from '../app/cli-context.js';

export interface OptionSpec {
  /** Left out only beside `choices` (a string then). */
  type?: 'string' | 'boolean';
  describe?: string;
  default?: string | boolean;
  choices?: readonly string[];
  array?: boolean;
  demandOption?: boolean;
  global?: boolean;
}

export interface PositionalSpec {
  type: 'string';
  choices?: readonly string[];
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** The flag of a field: `rotateServiceAccountKey` → `rotate-service-account-key`. */
export type FlagOf<K extends string> = K extends `${infer H}${infer T}`
  ? `${H extends Lowercase<H> ? H : `-${Lowercase<H>}`}${FlagOf<T>}`
  : K;

interface Described {
  describe?: string;
  global?: boolean;
}

/** A field that is not optional must be given: by a default, or by the user (demandOption). */
type Given<V, Required extends boolean> = Required extends true
  ? { default: V; demandOption?: false } | { demandOption: true; default?: never }
  : { default?: V; demandOption?: false };

/** The spec a field of type V may have. */
type SpecFor<V, Required extends boolean> = [V] extends [boolean]
  ? Described & { type: 'boolean'; choices?: never; array?: never } & Given<boolean, Required>
  : [V] extends [readonly string[]]
    ? Described & { type: 'string'; array: true; choices?: never } & Given<never, Required>
    : [V] extends [string]
      ? Described & { type?: 'string'; choices?: readonly V[]; array?: false } & Given<V, Required>
      : never;

/** The option table of an Args type: one flag per field, each spec matching its field. */
export type OptionsFor<A> = {
  readonly [K in keyof A & string as FlagOf<K>]-?: SpecFor<
    NonNullable<A[K]>,
    undefined extends A[K] ? false : true
  >;
};

export interface CommandModule {
  /** The name, then `<positional>`s (a command with positionals is always parsed by yargs). */
  command: string;
  describe: string;
  options: OptionTable;
  positionals?: Readonly<Record<string, PositionalSpec>>;
  /** Worked examples for `--help`: the command line (after the program name) and what it does. */
  examples?: readonly (readonly [string, string])[];
  run: (args: Record<string, unknown>, io: CliIo) => Promise<number>;
}

/**
 * A command whose table is typed from `A`, its Args (the global flags and the positionals `P` aside). The
 * parsers build the arguments from this very table, so the one cast from their record to `A` is here.
 */
export function defineCommand<A extends GlobalArgs, P extends keyof A & string = never>(spec: {
  command: string;
  describe: string;
  options: OptionsFor<Omit<A, keyof GlobalArgs | P>>;
  positionals?: Readonly<Record<P, PositionalSpec>>;
  examples?: readonly (readonly [string, string])[];
  run: (args: A, io: CliIo) => Promise<number>;
}): CommandModule {
  const { run, ...rest } = spec;
  return { ...rest, run: (args, io) => run(args as unknown as A, io) };
}

/** Registers a table with yargs, in its key order (which is the order --help lists them in). */
export function withOptions<T>(y: Argv<T>, table: OptionTable): Argv<T> {
  let out = y;
  for (const [name, spec] of Object.entries(table)) out = out.option(name, spec as Options) as Argv<T>;
  return out;
}

export function withPositionals<T>(y: Argv<T>, table: Readonly<Record<string, PositionalSpec>>): Argv<T> {
  let out = y;
  for (const [name, spec] of Object.entries(table)) {
    out = out.positional(name, spec as PositionalOptions) as Argv<T>;
  }
  return out;
}
