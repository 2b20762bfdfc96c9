/**
 * The strict zod schema of the config file. Every string value goes through variable expansion
 * first and is validated after it, so `${env.DIR}/pki` is checked as the path it becomes.
 * Unknown keys are errors at every level. Cross-field rules (presets, duplicate directories) live
 * in resolve.ts; this file only knows the shape of each value.
 */

import { parseDurationSeconds } from '../util/duration.js';
import { z } from '../util/zod.js';
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
    z.string().transform((value, ctx) => {
      const result = expandVariables(value, facts, self ? undefined : cluster);
      if (!result.ok) {
        ctx.addIssue({ code: 'custom', message: result.message });
        return z.NEVER;
      }
      return result.value;
    });
  /** An expanded string that `check` accepts (it returns a reason when it does not). */
  const checked = (check: (value: string) => string | undefined) =>
    expanded().pipe(
      z.string().superRefine((value, ctx) => {
        const reason = check(value);
        if (reason !== undefined) ctx.addIssue({ code: 'custom', message: reason });
      }),
    );
  const text = checked((v) => (v.trim() === '' ? 'must not be empty' : undefined));
  const absolutePath = checked((v) => {
    const reason = checkAbsolutePath(v);
    return reason === undefined ? undefined : `${reason}, got ${quote(v)}`;
  }).transform(normalisePath);
  const directory = absolutePath.pipe(
    z.string().refine((v) => v !== '/', { error: 'must not be the root directory' }),
  );
  const ip = checked((v) =>
    normaliseIp(v) === undefined ? `${quote(v)} is not an IP address` : undefined,
  ).transform((v) => normaliseIp(v) as string);
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
    z.union([z.string(), z.number()], { error: typeError }).transform((value, ctx) => {
      const text =
        typeof value === 'string' ? expandVariables(value, facts, cluster) : { ok: true as const, value };
      if (!text.ok) {
        ctx.addIssue({ code: 'custom', message: text.message });
        return z.NEVER;
      }
      const result = parse(text.value);
      if (result === undefined) {
        ctx.addIssue({ code: 'custom', message: bad(String(text.value)) });
        return z.NEVER;
      }
      return result;
    });
  const duration = parsedScalar(
    'must be a duration such as 720h, 30m, 90s or a number of seconds',
    (v) => {
      const seconds = parseDurationSeconds(v);
      return seconds !== undefined && seconds > 0 ? seconds : undefined;
    },
    (v) => `${quote(v)} is not a positive duration (e.g. 720h, 30m, 90s, 1h30m)`,
  );
  const fraction = parsedScalar(
    'must be a fraction such as 2/3, 0.75 or 75%',
    parseFraction,
    (v) => `${quote(v)} must be a fraction strictly between 0 and 1 (2/3, 0.75, 75%)`,
  );
  const fileMode = z
    .union([z.string(), z.number()], { error: 'must be an octal file mode such as "0640"' })
    .transform((value, ctx) => {
      if (typeof value === 'number') {
        ctx.addIssue({
          code: 'custom',
          message: `write file modes as quoted octal, e.g. "0640" (YAML reads an unquoted 0640 as the decimal ${value})`,
        });
        return z.NEVER;
      }
      const text = expandVariables(value, facts, cluster);
      const mode = text.ok ? parseOctalMode(text.value) : undefined;
      if (mode === undefined || mode > 0o777) {
        ctx.addIssue({
          code: 'custom',
          message: text.ok ? `${quote(text.value)} is not an octal permission mode 0000-0777` : text.message,
        });
        return z.NEVER;
      }
      return mode;
    });
  const account = z
    .union([z.string(), z.number().int().nonnegative()], {
      error: 'must be a user/group name or a numeric id',
    })
    .transform((value, ctx) => {
      const text =
        typeof value === 'string' ? expandVariables(value, facts, cluster) : { ok: true as const, value };
      if (!text.ok) {
        ctx.addIssue({ code: 'custom', message: text.message });
        return z.NEVER;
      }
      const name = String(text.value);
      if (!isAccountName(name)) {
        ctx.addIssue({ code: 'custom', message: `${quote(name)} is not a valid user/group name or id` });
        return z.NEVER;
      }
      return name;
    });
  const argv = z
    .array(expanded())
    .min(1, { error: 'must not be empty: give the program and its arguments' })
    .superRefine((args, ctx) => {
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
    });

  const key = strict({
    type: z.enum(['ec', 'rsa'], { error: 'must be ec or rsa' }),
    bits: z.number({ error: 'must be a number (ec: 256, 384; rsa: 2048, 3072, 4096)' }).int().optional(),
  })
    .superRefine((k, ctx) => {
      const allowed = k.type === 'ec' ? [256, 384] : [2048, 3072, 4096];
      if (k.bits !== undefined && !allowed.includes(k.bits)) {
        ctx.addIssue({
          code: 'custom',
          path: ['bits'],
          message: `${k.bits} is not valid for ${k.type} keys (allowed: ${allowed.join(', ')})`,
        });
      }
    })
    .transform((k) => ({ type: k.type, bits: k.bits ?? (k.type === 'ec' ? 256 : 2048) }));

  const systemd = strict({
    unit: checked((v) => (isUnitName(v) ? undefined : `${quote(v)} is not a systemd unit name`)),
    action: z.enum(['restart', 'reload', 'try-reload-or-restart'], {
      error: 'must be restart, reload or try-reload-or-restart',
    }),
    start: z.boolean().optional(),
  });

  const action = strict({ systemd: systemd.optional(), exec: argv.optional() }).superRefine((a, ctx) => {
    if ((a.systemd === undefined) === (a.exec === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'an action has exactly one of systemd or exec' });
    }
  });

  const healthCheck = strict({
    tls: checked(checkHostPort).optional(),
    command: argv.optional(),
    timeout: duration.optional(),
  }).superRefine((h, ctx) => {
    if ((h.tls === undefined) === (h.command === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a healthCheck has exactly one of tls or command' });
    }
  });

  const fileName = checked((v) =>
    isSetFileName(v)
      ? undefined
      : `${quote(v)} must be a plain file name ([A-Za-z0-9._-], not starting with "..")`,
  );

  const files = strict({
    dir: directory,
    owner: account.optional(),
    group: account.optional(),
    names: strict({
      cert: fileName.optional(),
      key: fileName.optional(),
      ca: fileName.optional(),
      fullchain: fileName.optional(),
    }).optional(),
    certMode: fileMode.optional(),
    dirMode: fileMode.optional(),
  });

  const unknownPreset = (iss: { input?: unknown }) =>
    `unknown preset ${quote(String(iss.input))} (known: ${PRESET_NAMES.join(', ')})`;
  const presetName = expanded().pipe(z.string().refine(isPresetName, { error: unknownPreset }));

  const certificate = strict({
    preset: presetName.optional(),
    mount: checked((v) =>
      isMountPath(v) ? undefined : `${quote(v)} is not a mount path such as k8s/prod/pki`,
    ).optional(),
    role: checked((v) => (isRoleName(v) ? undefined : `${quote(v)} is not a Vault role name`)).optional(),
    mode: z
      .enum(['sign', 'issue'], { error: 'must be sign (key made here) or issue (key made by Vault)' })
      .optional(),
    commonName: checked((v) =>
      v.trim() === '' ? 'must not be empty' : v.length > 64 ? 'must be at most 64 characters' : undefined,
    ).optional(),
    altNames: z.array(sanName).optional(),
    ipSans: z.array(ip).optional(),
    replaceSans: z.boolean().optional(),
    usages: z
      .array(z.enum(['server', 'client'], { error: 'must be server or client' }), {
        error: 'must be a list of server/client',
      })
      .min(1, { error: 'must not be empty' })
      .optional(),
    key: key.optional(),
    ttl: duration.optional(),
    renewAt: fraction.optional(),
    files,
    actions: z.array(action).optional(),
    healthCheck: healthCheck.optional(),
  });

  return strict({
    cluster: expanded(true).pipe(
      z
        .string()
        .regex(CLUSTER, { error: 'must be 1-63 lower-case letters, digits and "-" (not at either end)' }),
    ),
    vault: strict({
      address: checked((v) => {
        const problem = vaultAddressProblem(v);
        if (problem === 'not-a-url') return `${quote(v)} is not a URL`;
        if (problem === 'scheme') return 'must be an http(s) URL';
        return problem === 'credentials' ? 'must not contain credentials' : undefined;
      }).optional(),
      caCert: absolutePath.optional(),
      caPath: absolutePath.optional(),
      namespace: text.optional(),
      tokenFile: absolutePath.optional(),
      wrappedToken: z.boolean().optional(),
      timeout: duration.optional(),
    }).optional(),
    defaults: strict({
      key: key.optional(),
      ttl: duration.optional(),
      renewAt: fraction.optional(),
      files: strict({
        owner: account.optional(),
        group: account.optional(),
        certMode: fileMode.optional(),
        dirMode: fileMode.optional(),
      }).optional(),
      mountNaming: strict({
        etcd: checked((v) => (isMountPath(v) ? undefined : `${quote(v)} is not a mount path`)).optional(),
        kubernetes: checked((v) =>
          isMountPath(v) ? undefined : `${quote(v)} is not a mount path`,
        ).optional(),
        frontProxy: checked((v) =>
          isMountPath(v) ? undefined : `${quote(v)} is not a mount path`,
        ).optional(),
      }).optional(),
    }).optional(),
    node: strict({
      name: dnsName.optional(),
      ip: ip.optional(),
      // May be empty (e.g. `${env.LB}` unset to ''): an empty <lb> is omitted from SANs.
      loadBalancer: expanded()
        .pipe(
          z.string().superRefine((v, ctx) => {
            if (v !== '' && normaliseIp(v) === undefined && !isDnsName(v)) {
              ctx.addIssue({
                code: 'custom',
                message: `${quote(v)} is neither a DNS name nor an IP address`,
              });
            }
          }),
        )
        .optional(),
      serviceIp: ip.optional(),
      dnsDomain: dnsName.optional(),
    }).optional(),
    metrics: strict({
      textfile: absolutePath.pipe(
        z.string().refine((v) => v.endsWith('.prom'), {
          error: "must end in .prom (node_exporter's textfile collector reads only *.prom)",
        }),
      ),
    }).optional(),
    stateDir: directory.optional(),
    certificates: z
      .record(
        z
          .string()
          .regex(CERT_NAME, { error: 'certificate names may use only A-Z a-z 0-9 . _ -' })
          .refine((n) => n !== '__proto__' && !/^\.+$/.test(n), {
            error: 'is not a usable certificate name',
          }),
        certificate,
        { error: 'must be a mapping of certificate name to settings' },
      )
      .optional(),
  });
}

export type RawConfig = z.output<ReturnType<typeof buildConfigSchema>>;
export type RawCertificate = NonNullable<RawConfig['certificates']>[string];

export { CERT_NAME, CLUSTER };
