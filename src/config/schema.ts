/**
 * The strict zod schema of the config file. Every string value goes through variable expansion
 * first and is validated after it, so `${env.DIR}/pki` is checked as the path it becomes.
 * Unknown keys are errors at every level. Cross-field rules (presets, duplicate directories) live
 * in resolve.ts; this file only knows the shape of each value.
 */

import { parseDurationSeconds } from '../util/duration.js';
import * as z from '../util/zod.js';
import { fileModeProblem, ttlProblem } from './limits.js';
import { buildOutputSchemas } from './outputs-schema.js';
import { isPresetName, PRESET_NAMES } from './presets.js';
import {
  checkAbsolutePath,
  checkHostPort,
  isAccountName,
  isDnsName,
  isMountPath,
  isRoleName,
  isSetFileName,
  isUnitName,
  normaliseIp,
  normalisePath,
  parseFraction,
  parseOctalMode,
  vaultAddressProblem,
} from './validate.js';
import { expandVariables, type VariableFacts } from './variables.js';

/** Shows a value in a message without flooding it. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

const CERT_NAME = /^[A-Za-z0-9._-]+$/;
const CLUSTER = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Fails a transform with `message`. A zod/mini transform's context has no `addIssue`; this pushes the
 * issue classic zod's `ctx.addIssue({ code: 'custom', message })` pushed.
 */
function fail(ctx: z.core.ParsePayload, message: string): never {
  ctx.issues.push({ code: 'custom', message, input: ctx.value });
  return z.NEVER;
}

/** A strict object whose unknown-key message lists the keys allowed there. */
function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `allowed keys here: ${allowed}` : undefined),
  });
}

export function buildConfigSchema(facts: VariableFacts, cluster: string | undefined) {
  /** A string with its variables expanded; `self` is for the cluster, which cannot use ${cluster}. */
  const expanded = (self = false) =>
    z.pipe(
      z.string(),
      z.transform((value, ctx) => {
        const result = expandVariables(value, facts, self ? undefined : cluster);
        return result.ok ? result.value : fail(ctx, result.message);
      }),
    );
  /** An expanded string that `check` accepts (it returns a reason when it does not). */
  const checked = (check: (value: string) => string | undefined) =>
    z.pipe(
      expanded(),
      z.string().check(
        z.superRefine((value, ctx) => {
          const reason = check(value);
          if (reason !== undefined) ctx.addIssue({ code: 'custom', message: reason });
        }),
      ),
    );
  const text = checked((v) => (v.trim() === '' ? 'must not be empty' : undefined));
  const absolutePath = z.pipe(
    checked((v) => {
      const reason = checkAbsolutePath(v);
      return reason === undefined ? undefined : `${reason}, got ${quote(v)}`;
    }),
    z.transform(normalisePath),
  );
  const directory = z.pipe(
    absolutePath,
    z.string().check(z.refine((v) => v !== '/', { error: 'must not be the root directory' })),
  );
  const ip = z.pipe(
    checked((v) => (normaliseIp(v) === undefined ? `${quote(v)} is not an IP address` : undefined)),
    z.transform((v) => normaliseIp(v) as string),
  );
  const dnsName = checked((v) => (isDnsName(v) ? undefined : `${quote(v)} is not a valid DNS name`));
  const sanName = checked((v) =>
    normaliseIp(v) !== undefined || isDnsName(v)
      ? undefined
      : `${quote(v)} is neither a DNS name nor an IP address`,
  );
  // A string (variables expanded) or a number, parsed into a value or refused with a message naming it.
  const parsedScalar = <T>(
    typeError: string,
    parse: (v: string | number) => T | undefined,
    bad: (v: string) => string,
  ) =>
    z.pipe(
      z.union([z.string(), z.number()], { error: typeError }),
      z.transform((value, ctx) => {
        const text =
          typeof value === 'string' ? expandVariables(value, facts, cluster) : { ok: true as const, value };
        if (!text.ok) return fail(ctx, text.message);
        const result = parse(text.value);
        return result === undefined ? fail(ctx, bad(String(text.value))) : result;
      }),
    );
  const duration = parsedScalar(
    'must be a duration such as 720h, 30m, 90s or a number of seconds',
    (v) => {
      const seconds = parseDurationSeconds(v);
      return seconds !== undefined && seconds > 0 ? seconds : undefined;
    },
    (v) => `${quote(v)} is not a positive duration (e.g. 720h, 30m, 90s, 1h30m)`,
  );
  const ttl = z.pipe(
    duration,
    z.number().check(
      z.superRefine((seconds, ctx) => {
        const problem = ttlProblem(seconds);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      }),
    ),
  );
  const fraction = parsedScalar(
    'must be a fraction such as 2/3, 0.75 or 75%',
    parseFraction,
    (v) => `${quote(v)} must be a fraction strictly between 0 and 1 (2/3, 0.75, 75%)`,
  );
  const fileMode = (key: 'certMode' | 'dirMode') =>
    z.pipe(
      z.union([z.string(), z.number()], { error: 'must be an octal file mode such as "0640"' }),
      z.transform((value, ctx) => {
        if (typeof value === 'number') {
          return fail(
            ctx,
            `write file modes as quoted octal, e.g. "0640" (YAML reads an unquoted 0640 as the decimal ${value})`,
          );
        }
        const text = expandVariables(value, facts, cluster);
        const mode = text.ok ? parseOctalMode(text.value) : undefined;
        if (mode === undefined || mode > 0o777) {
          return fail(
            ctx,
            text.ok ? `${quote(text.value)} is not an octal permission mode 0000-0777` : text.message,
          );
        }
        const problem = fileModeProblem(mode, key);
        return problem === undefined ? mode : fail(ctx, problem);
      }),
    );
  const account = z.pipe(
    z.union([z.string(), z.number().check(z.int(), z.nonnegative())], {
      error: 'must be a user/group name or a numeric id',
    }),
    z.transform((value, ctx) => {
      const text =
        typeof value === 'string' ? expandVariables(value, facts, cluster) : { ok: true as const, value };
      if (!text.ok) return fail(ctx, text.message);
      const name = String(text.value);
      return isAccountName(name) ? name : fail(ctx, `${quote(name)} is not a valid user/group name or id`);
    }),
  );
  const argv = z.array(expanded()).check(
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

  const key = z.pipe(
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

  const systemd = strict({
    unit: checked((v) => (isUnitName(v) ? undefined : `${quote(v)} is not a systemd unit name`)),
    action: z.enum(['restart', 'reload', 'try-reload-or-restart'], {
      error: 'must be restart, reload or try-reload-or-restart',
    }),
    start: z.optional(z.boolean()),
  });

  const action = strict({ systemd: z.optional(systemd), exec: z.optional(argv) }).check(
    z.superRefine((a, ctx) => {
      if ((a.systemd === undefined) === (a.exec === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'an action has exactly one of systemd or exec' });
      }
    }),
  );

  const healthCheck = strict({
    tls: z.optional(checked(checkHostPort)),
    command: z.optional(argv),
    timeout: z.optional(duration),
  }).check(
    z.superRefine((h, ctx) => {
      if ((h.tls === undefined) === (h.command === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'a healthCheck has exactly one of tls or command' });
      }
    }),
  );

  const fileName = checked((v) =>
    isSetFileName(v)
      ? undefined
      : `${quote(v)} must be a plain file name ([A-Za-z0-9._-], not starting with "..")`,
  );

  const files = strict({
    dir: directory,
    owner: z.optional(account),
    group: z.optional(account),
    names: z.optional(
      strict({
        cert: z.optional(fileName),
        key: z.optional(fileName),
        ca: z.optional(fileName),
        fullchain: z.optional(fileName),
      }),
    ),
    certMode: z.optional(fileMode('certMode')),
    dirMode: z.optional(fileMode('dirMode')),
  });

  const unknownPreset = (iss: { input?: unknown }) =>
    `unknown preset ${quote(String(iss.input))} (known: ${PRESET_NAMES.join(', ')})`;
  const presetName = z.pipe(expanded(), z.string().check(z.refine(isPresetName, { error: unknownPreset })));

  const certificate = strict({
    preset: z.optional(presetName),
    mount: z.optional(
      checked((v) => (isMountPath(v) ? undefined : `${quote(v)} is not a mount path such as k8s/prod/pki`)),
    ),
    role: z.optional(checked((v) => (isRoleName(v) ? undefined : `${quote(v)} is not a Vault role name`))),
    mode: z.optional(
      z.enum(['sign', 'issue'], { error: 'must be sign (key made here) or issue (key made by Vault)' }),
    ),
    commonName: z.optional(
      checked((v) =>
        v.trim() === '' ? 'must not be empty' : v.length > 64 ? 'must be at most 64 characters' : undefined,
      ),
    ),
    altNames: z.optional(z.array(sanName)),
    ipSans: z.optional(z.array(ip)),
    replaceSans: z.optional(z.boolean()),
    usages: z.optional(
      z
        .array(z.enum(['server', 'client'], { error: 'must be server or client' }), {
          error: 'must be a list of server/client',
        })
        .check(z.minLength(1, { error: 'must not be empty' })),
    ),
    key: z.optional(key),
    ttl: z.optional(ttl),
    renewAt: z.optional(fraction),
    files,
    actions: z.optional(z.array(action)),
    healthCheck: z.optional(healthCheck),
  });

  const vaultAddress = checked((v) => {
    const problem = vaultAddressProblem(v);
    if (problem === 'not-a-url') return `${quote(v)} is not a URL`;
    if (problem === 'scheme') return 'must be an http(s) URL';
    return problem === 'credentials' ? 'must not contain credentials' : undefined;
  });

  const outputs = buildOutputSchemas({ strict, absolutePath, account, checked });

  return strict({
    cluster: z.pipe(
      expanded(true),
      z
        .string()
        .check(
          z.regex(CLUSTER, { error: 'must be 1-63 lower-case letters, digits and "-" (not at either end)' }),
        ),
    ),
    vault: z.optional(
      strict({
        // One address, or a list to fail over across (the nodes of an HA cluster).
        address: z.optional(z.union([vaultAddress, z.array(vaultAddress).check(z.minLength(1))])),
        caCert: z.optional(absolutePath),
        caPath: z.optional(absolutePath),
        namespace: z.optional(text),
        tokenFile: z.optional(absolutePath),
        wrappedToken: z.optional(z.boolean()),
        timeout: z.optional(duration),
      }),
    ),
    defaults: z.optional(
      strict({
        key: z.optional(key),
        ttl: z.optional(ttl),
        renewAt: z.optional(fraction),
        files: z.optional(
          strict({
            owner: z.optional(account),
            group: z.optional(account),
            certMode: z.optional(fileMode('certMode')),
            dirMode: z.optional(fileMode('dirMode')),
          }),
        ),
        mountNaming: z.optional(
          strict({
            etcd: z.optional(
              checked((v) => (isMountPath(v) ? undefined : `${quote(v)} is not a mount path`)),
            ),
            kubernetes: z.optional(
              checked((v) => (isMountPath(v) ? undefined : `${quote(v)} is not a mount path`)),
            ),
            frontProxy: z.optional(
              checked((v) => (isMountPath(v) ? undefined : `${quote(v)} is not a mount path`)),
            ),
            etcdOverlay: z.optional(
              checked((v) => (isMountPath(v) ? undefined : `${quote(v)} is not a mount path`)),
            ),
          }),
        ),
      }),
    ),
    node: z.optional(
      strict({
        name: z.optional(dnsName),
        ip: z.optional(ip),
        // May be empty (e.g. `${env.LB}` unset to ''): an empty <lb> is omitted from SANs.
        loadBalancer: z.optional(
          z.pipe(
            expanded(),
            z.string().check(
              z.superRefine((v, ctx) => {
                if (v !== '' && normaliseIp(v) === undefined && !isDnsName(v)) {
                  ctx.addIssue({
                    code: 'custom',
                    message: `${quote(v)} is neither a DNS name nor an IP address`,
                  });
                }
              }),
            ),
          ),
        ),
        serviceIp: z.optional(ip),
        dnsDomain: z.optional(dnsName),
      }),
    ),
    metrics: z.optional(
      strict({
        textfile: z.pipe(
          absolutePath,
          z.string().check(
            z.refine((v) => v.endsWith('.prom'), {
              error: "must end in .prom (node_exporter's textfile collector reads only *.prom)",
            }),
          ),
        ),
      }),
    ),
    stateDir: z.optional(directory),
    certificates: z.optional(
      z.record(
        z.string().check(
          z.regex(CERT_NAME, { error: 'certificate names may use only A-Z a-z 0-9 . _ -' }),
          z.refine((n) => n !== '__proto__' && !/^\.+$/.test(n), {
            error: 'is not a usable certificate name',
          }),
        ),
        certificate,
        { error: 'must be a mapping of certificate name to settings' },
      ),
    ),
    kubeconfigs: z.optional(outputs.kubeconfigs),
    serviceAccountKey: z.optional(outputs.serviceAccountKey),
  });
}

export type RawConfig = z.output<ReturnType<typeof buildConfigSchema>>;
export type RawCertificate = NonNullable<RawConfig['certificates']>[string];

export { CERT_NAME, CLUSTER };
