/**
 * The config's value schemas, built once: each checks one string or number (variables already expanded, see
 * expand-values.ts) and words its own refusal. schema.ts and outputs-schema.ts put them together.
 */
import { parseDurationSeconds } from '../util/duration.js';
import * as z from '../util/zod.js';
import { fileModeProblem, ttlProblem } from './limits.js';
import {
  checkAbsolutePath,
  isAccountName,
  isDnsName,
  isSetFileName,
  normaliseIp,
  normalisePath,
  parseFraction,
  parseOctalMode,
  vaultAddressProblem,
} from './validate.js';

/** Shows a value in a message without flooding it. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

/**
 * Fails a transform with `message`. A zod/mini transform's context has no `addIssue`; this pushes the
 * issue classic zod's `ctx.addIssue({ code: 'custom', message })` pushed.
 */
export function fail(ctx: z.core.ParsePayload, message: string): never {
  ctx.issues.push({ code: 'custom', message, input: ctx.value });
  return z.NEVER;
}

/** A strict object whose unknown-key message lists the keys allowed there. */
export function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `allowed keys here: ${allowed}` : undefined),
  });
}

/** A string that `check` accepts (it returns a reason when it does not). */
export const checked = (check: (value: string) => string | undefined) =>
  z.string().check(
    z.superRefine((value, ctx) => {
      const reason = check(value);
      if (reason !== undefined) ctx.addIssue({ code: 'custom', message: reason });
    }),
  );

export const text = checked((v) => (v.trim() === '' ? 'must not be empty' : undefined));
export const absolutePath = z.pipe(
  checked((v) => {
    const reason = checkAbsolutePath(v);
    return reason === undefined ? undefined : `${reason}, got ${quote(v)}`;
  }),
  z.transform(normalisePath),
);
export const directory = z.pipe(
  absolutePath,
  z.string().check(z.refine((v) => v !== '/', { error: 'must not be the root directory' })),
);
export const ip = z.pipe(
  checked((v) => (normaliseIp(v) === undefined ? `${quote(v)} is not an IP address` : undefined)),
  z.transform((v) => normaliseIp(v) as string),
);
export const dnsName = checked((v) => (isDnsName(v) ? undefined : `${quote(v)} is not a valid DNS name`));
export const sanName = checked((v) =>
  normaliseIp(v) !== undefined || isDnsName(v)
    ? undefined
    : `${quote(v)} is neither a DNS name nor an IP address`,
);
// A string (variables expanded) or a number, parsed into a value or refused with a message naming it.
export const parsedScalar = <T>(
  typeError: string,
  parse: (v: string | number) => T | undefined,
  bad: (v: string) => string,
) =>
  z.pipe(
    z.union([z.string(), z.number()], { error: typeError }),
    z.transform((value, ctx) => {
      const result = parse(value);
      return result === undefined ? fail(ctx, bad(String(value))) : result;
    }),
  );
export const duration = parsedScalar(
  'must be a duration such as 720h, 30m, 90s or a number of seconds',
  (v) => {
    const seconds = parseDurationSeconds(v);
    return seconds !== undefined && seconds > 0 ? seconds : undefined;
  },
  (v) => `${quote(v)} is not a positive duration (e.g. 720h, 30m, 90s, 1h30m)`,
);
export const ttl = z.pipe(
  duration,
  z.number().check(
    z.superRefine((seconds, ctx) => {
      const problem = ttlProblem(seconds);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }),
  ),
);
export const fraction = parsedScalar(
  'must be a fraction such as 2/3, 0.75 or 75%',
  parseFraction,
  (v) => `${quote(v)} must be a fraction strictly between 0 and 1 (2/3, 0.75, 75%)`,
);
export const fileMode = (key: 'certMode' | 'dirMode') =>
  z.pipe(
    z.union([z.string(), z.number()], { error: 'must be an octal file mode such as "0640"' }),
    z.transform((value, ctx) => {
      if (typeof value === 'number') {
        return fail(
          ctx,
          `write file modes as quoted octal, e.g. "0640" (YAML reads an unquoted 0640 as the decimal ${value})`,
        );
      }
      const mode = parseOctalMode(value);
      if (mode === undefined || mode > 0o777) {
        return fail(ctx, `${quote(value)} is not an octal permission mode 0000-0777`);
      }
      const problem = fileModeProblem(mode, key);
      return problem === undefined ? mode : fail(ctx, problem);
    }),
  );
export const account = z.pipe(
  z.union([z.string(), z.number().check(z.int(), z.nonnegative())], {
    error: 'must be a user/group name or a numeric id',
  }),
  z.transform((value, ctx) => {
    const name = String(value);
    return isAccountName(name) ? name : fail(ctx, `${quote(name)} is not a valid user/group name or id`);
  }),
);
export const argv = z.array(z.string()).check(
  z.minLength(1, { error: 'must not be empty: give the program and its arguments' }),
  z.superRefine((args, ctx) => {
    const program = args[0];
    if (program !== undefined && checkAbsolutePath(program) !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [0],
        message: `the program must be an absolute path (no PATH lookup, no shell), got ${quote(program)}`,
      });
    }
    args.forEach((arg, index) => {
      if (arg.includes('\0'))
        ctx.addIssue({ code: 'custom', path: [index], message: 'must not contain NUL' });
    });
  }),
);

export const key = z.pipe(
  strict({
    type: z.enum(['ec', 'rsa'], { error: 'must be ec or rsa' }),
    bits: z.optional(
      z.number({ error: 'must be a number (ec: 256, 384; rsa: 2048, 3072, 4096)' }).check(z.int()),
    ),
  }).check(
    z.superRefine((k, ctx) => {
      const allowed = k.type === 'ec' ? [256, 384] : [2048, 3072, 4096];
      if (k.bits !== undefined && !allowed.includes(k.bits)) {
        ctx.addIssue({
          code: 'custom',
          path: ['bits'],
          message: `${k.bits} is not valid for ${k.type} keys (allowed: ${allowed.join(', ')})`,
        });
      }
    }),
  ),
  z.transform((k) => ({
    type: k.type,
    bits: k.bits ?? (k.type === 'ec' ? 256 : 2048),
  })),
);

export const fileName = checked((v) =>
  isSetFileName(v)
    ? undefined
    : `${quote(v)} must be a plain file name ([A-Za-z0-9._-], not starting with "..")`,
);

export const vaultAddress = checked((v) => {
  const problem = vaultAddressProblem(v);
  if (problem === 'not-a-url') return `${quote(v)} is not a URL`;
  if (problem === 'scheme') return 'must be an http(s) URL';
  return problem === 'credentials' ? 'must not contain credentials' : undefined;
});
