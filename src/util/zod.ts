/**
 * zod, set up for a short-lived process: `jitless` keeps zod from generating and compiling a parser
 * function per object schema (new Function), which costs more than it saves when each schema parses a
 * handful of values per run. Every module imports `z` from here so the setting is in force before any
 * schema parses.
 */
import { z } from 'zod';

z.config({ jitless: true });

export { z };
