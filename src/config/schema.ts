/**
 * The strict zod schema of the config file, built once. It sees the config with its variables already
 * expanded (expand-values.ts), so `${env.DIR}/pki` is checked as the path it becomes; the value schemas are in
 * value-schemas.ts. Unknown keys are errors at every level. Cross-field rules (presets, duplicate directories)
 * live in resolve.ts; this file only knows the shape of the config.
 */
import * as z from '../util/zod.js';
import { kubeconfigs, serviceAccountKey } from './outputs-schema.js';
import { isPresetName, PRESET_NAMES } from './presets.js';
import { checkHostPort, isDnsName, isMountPath, isRoleName, isUnitName, normaliseIp } from './validate.js';
import {
  absolutePath,
  account,
  argv,
  checked,
  directory,
  dnsName,
  duration,
  fileMode,
  fileName,
  fraction,
  ip,
  key,
  quote,
  sanName,
  strict,
  text,
  ttl,
  vaultAddress,
} from './value-schemas.js';

const CERT_NAME = /^[A-Za-z0-9._-]+$/;
const CLUSTER = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const systemd = strict({
  unit: checked((v) => (isUnitName(v) ? undefined : `${quote(v)} is not a systemd unit name`)),
  action: z.enum(['restart', 'reload', 'try-reload-or-restart', 'start'], {
    error: 'must be restart, reload, try-reload-or-restart or start',
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
const presetName = z.string().check(z.refine(isPresetName, { error: unknownPreset }));

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

/** The config file's schema; its input has its variables expanded already (expand-values.ts). */
export const configSchema = strict({
  cluster: z
    .string()
    .check(
      z.regex(CLUSTER, { error: 'must be 1-63 lower-case letters, digits and "-" (not at either end)' }),
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
          etcd: z.optional(checked((v) => (isMountPath(v) ? undefined : `${quote(v)} is not a mount path`))),
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
  kubeconfigs: z.optional(kubeconfigs),
  serviceAccountKey: z.optional(serviceAccountKey),
});

export type RawConfig = z.output<typeof configSchema>;
export type RawCertificate = NonNullable<RawConfig['certificates']>[string];

export { CERT_NAME, CLUSTER };
