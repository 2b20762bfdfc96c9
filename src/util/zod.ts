/**
 * zod, set up for a short-lived process. Every module imports it from here, as a namespace
 * (`import * as z from '../util/zod.js'`), so the settings are in force before any schema is built.
 *
 * - `zod/mini`, not the classic `zod` API: the same validators as plain functions (`z.optional(x)`,
 *   `z.pipe(x, z.transform(f))`, `x.check(z.refine(f))`) instead of methods, so the bundler keeps only
 *   the validators the agent names: ~38 KB of zod in the bundle instead of ~195 KB. That needs this
 *   module's `export *` and a namespace import in its users: a namespace object handed around as a
 *   value (`export { z }`) keeps all of zod/mini (~170 KB) in the bundle.
 * - `jitless` keeps zod from generating and compiling a parser function per object schema
 *   (new Function), which costs more than it saves when each schema parses a handful of values per run.
 * - English messages: classic zod installs them when its first schema is built; mini installs none, and
 *   every issue a schema does not word itself would read "Invalid input".
 * - The memoizer: classic zod installs it too (with its first container schema); it lets a parse take
 *   input that refers to itself, as YAML aliases can, and is kept so such input is handled as before.
 *
 * In zod/mini a transform's context has no `addIssue`: push onto `ctx.issues` instead (see
 * config/schema.ts); `superRefine` and `refine` are unchanged.
 */
import { config, locales, memoizer } from 'zod/mini';

config(locales.en());
config({ jitless: true, memoizer: memoizer() });

export * from 'zod/mini';
