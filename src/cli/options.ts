/**
 * Flags as data. yargs builds the full parser and --help from these tables (run-cli.ts); fast-argv.ts
 * parses the plain forms the units, cloud-init and kubectl use without loading yargs at all.
 */
import type { Argv, Options, PositionalOptions } from 'yargs';

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
