/**
 * The provision config file: YAML, unknown keys are errors, every value checked (durations, mount paths, CIDRs,
 * known role names, worker name patterns that admit no apiserver or control-plane name). Pure: text in, file out;
 * provision-settings.ts turns it and the flags into settings.
 */
import { listPresetRoles, NODE_TYPE_NAMES } from '../config/presets.js';
import { isMountPath } from '../config/validate.js';
import { loadYaml, throwIssues } from '../config/yaml-source.js';
import { parseDurationSeconds } from '../util/duration.js';
import * as z from '../util/zod.js';
import { isCidr } from './cidr.js';

const duration = z.string().check(
  z.refine((v) => (parseDurationSeconds(v) ?? 0) > 0, {
    error: 'must be a duration such as 720h',
  }),
);
const mount = z
  .string()
  .check(z.refine(isMountPath, { error: 'must be a mount path such as etcd/prod/pki' }));
const names = z.array(z.string().check(z.minLength(1))).check(z.minLength(1));
const clientNames = z
  .array(z.string().check(z.regex(/^[A-Za-z0-9:._-]+$/, { error: 'must be a plain name (no globs)' })))
  .check(z.minLength(1));
const cidr = z.string().check(z.refine(isCidr, { error: 'must be a CIDR such as 10.1.0.0/16' }));
const cidrs = z.array(cidr).check(z.minLength(1));
const perInstanceType = <T extends z.ZodMiniType>(value: T) =>
  z.strictObject({
    'etcd-member': z.optional(value),
    'control-plane': z.optional(value),
    worker: z.optional(value),
  });
const perNodeType = z.strictObject(
  Object.fromEntries(
    NODE_TYPE_NAMES.map((t) => [t, z.optional(z.string().check(z.regex(/^[A-Za-z0-9._-]+$/)))]),
  ),
);

const fileSchema = z
  .strictObject({
    mounts: z.optional(
      z.strictObject({
        etcd: z.optional(mount),
        kubernetes: z.optional(mount),
        frontProxy: z.optional(mount),
        etcdOverlay: z.optional(mount),
      }),
    ),
    parent: z.optional(mount),
    ca: z.optional(
      z.strictObject({
        ttl: z.optional(duration),
        keyType: z.optional(z.enum(['ec', 'rsa'])),
        keyBits: z.optional(z.number().check(z.int())),
        commonNames: z.optional(
          z.strictObject({
            etcd: z.optional(z.string().check(z.minLength(1))),
            kubernetes: z.optional(z.string().check(z.minLength(1))),
            frontProxy: z.optional(z.string().check(z.minLength(1))),
            etcdOverlay: z.optional(z.string().check(z.minLength(1))),
          }),
        ),
      }),
    ),
    urlBase: z.optional(z.url()),
    // A list applies to every node type (as before); a map sets each node type's own names.
    nodeNames: z.optional(z.union([names, perInstanceType(names)])),
    nodeAddresses: z.optional(perInstanceType(cidrs)),
    loadBalancers: z.optional(names),
    dnsDomain: z.optional(z.string().check(z.minLength(1))),
    serviceCidr: z.optional(cidr),
    etcdClientNames: z.optional(clientNames),
    overlayClientNames: z.optional(clientNames),
    // Keyed by the roles provision creates: a misspelt name would otherwise tune nothing, silently.
    roles: z.optional(
      z
        .record(
          z.string(),
          z.strictObject({
            ttl: z.optional(duration),
            maxTtl: z.optional(duration),
            organization: z.optional(z.array(z.string())),
          }),
        )
        .check(
          z.superRefine((roles, ctx) => {
            const known = [...new Set(listPresetRoles().map((r) => r.role))].sort();
            for (const name of Object.keys(roles)) {
              if (known.includes(name)) continue;
              ctx.addIssue({
                code: 'custom',
                path: [name],
                message: `unknown role "${name}" (roles: ${known.join(', ')})`,
                input: roles,
              });
            }
          }),
        ),
    ),
    policies: z.optional(perNodeType),
    tokenRoles: z.optional(perNodeType),
    tokenPeriod: z.optional(duration),
  })
  .check(
    z.superRefine((file, ctx) => {
      // A worker pattern that admits the apiserver's names (or a control-plane/etcd node's name) would hand
      // them to every worker token: refuse it here rather than write it into a role.
      const worker = Array.isArray(file.nodeNames) ? undefined : file.nodeNames?.worker;
      if (!worker) return;
      const domain = file.dnsDomain ?? 'cluster.local';
      const others = Array.isArray(file.nodeNames)
        ? []
        : [...(file.nodeNames?.['control-plane'] ?? []), ...(file.nodeNames?.['etcd-member'] ?? [])];
      const protectedNames = [
        ...APISERVER_NAMES.map((n) => n.replace('<domain>', domain)),
        ...(file.loadBalancers ?? []),
        ...others.filter((n) => !n.includes('*')),
      ];
      for (const [i, pattern] of worker.entries()) {
        const hit = protectedNames.find((name) => globMatches(pattern, name));
        if (hit === undefined) continue;
        ctx.addIssue({
          code: 'custom',
          path: ['nodeNames', 'worker', i],
          message: `"${pattern}" admits "${hit}", a name no worker may hold`,
          input: file,
        });
      }
    }),
  );

/** Names only the apiserver holds (SPEC apiserver preset), which no worker pattern may admit. */
const APISERVER_NAMES = [
  'kube-apiserver',
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
  'kubernetes.default.svc.<domain>',
];

/** Vault's glob (ryanuber/go-glob): `*` matches any run of characters, dots included; case-sensitive. */
function globMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern.toLowerCase() === name.toLowerCase(); // bare names: without case
  let at = 0;
  for (const [i, part] of parts.entries()) {
    if (i === 0) {
      if (!name.startsWith(part)) return false;
      at = part.length;
      continue;
    }
    if (i === parts.length - 1) return name.length - part.length >= at && name.endsWith(part);
    const found = name.indexOf(part, at);
    if (found < 0) return false;
    at = found + part.length;
  }
  return true;
}

export type ProvisionFile = z.output<typeof fileSchema>;

/** Parses the provision config file text; errors name the file, line and key. */
export function parseProvisionFile(text: string, source?: string): ProvisionFile {
  const yaml = loadYaml(text, source);
  if (yaml.value === null || yaml.value === undefined) return {};
  const parsed = fileSchema.safeParse(yaml.value);
  if (!parsed.success) {
    throwIssues(
      parsed.error.issues.map((i) => ({ path: i.path as (string | number)[], message: i.message })),
      yaml.locate,
      source,
    );
  }
  return parsed.data;
}
