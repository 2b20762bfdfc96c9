/**
 * Vault's answers, validated: the shapes the agent relies on (a certificate, a token's lookup, an `auth` block)
 * and the mapping to the port's camel-cased types. Anything else is not Vault talking: `vault-bad-response`.
 */
import { VaultUnavailableError } from '../errors.js';
import * as z from '../util/zod.js';
import type { CertificateAnswer, TokenInfo } from './vault-client.js';

const certificateData = z.object({
  certificate: z.string().check(z.minLength(1)),
  issuing_ca: z._default(z.string(), ''),
  ca_chain: z.nullish(z.array(z.string())),
  private_key: z.optional(z.string()),
  private_key_type: z.optional(z.string()),
  serial_number: z.string(),
  // A string of 400 digits is a number too: Infinity, which the pipe refuses.
  expiration: z.union([
    z.number(),
    z.pipe(z.pipe(z.string().check(z.regex(/^\d+$/)), z.transform(Number)), z.number()),
  ]),
});

const tokenData = z.object({
  accessor: z.optional(z.string()),
  display_name: z.optional(z.string()),
  policies: z.nullish(z.array(z.string())),
  ttl: z.number(),
  renewable: z.optional(z.boolean()),
  period: z.optional(z.number()),
  explicit_max_ttl: z.optional(z.number()),
  num_uses: z.optional(z.number()),
  orphan: z.optional(z.boolean()),
  expire_time: z.nullish(z.string()),
  path: z.optional(z.string()),
});

const authBlock = z.object({
  // A token goes into an HTTP header: printable ASCII only (anything else would fail every later request).
  client_token: z.string().check(z.regex(/^[\x21-\x7e]+$/, 'is not a token (empty, or not printable ASCII)')),
  lease_duration: z.number(),
  renewable: z.boolean(),
  policies: z.nullish(z.array(z.string())),
});

export type AuthBlock = z.infer<typeof authBlock>;

function parseAnswer<T>(schema: z.ZodMiniType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VaultUnavailableError(
      'vault-bad-response',
      `Vault's answer to ${what} is not what Vault sends: ${issue?.path.join('.') || '(body)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

/** `data` of a sign/issue answer. */
export function certificateAnswerOf(body: unknown, what: string): CertificateAnswer {
  const d = parseAnswer(certificateData, (body as { data?: unknown } | undefined)?.data, what);
  return {
    certificate: d.certificate,
    issuingCa: d.issuing_ca,
    caChain: d.ca_chain ?? [],
    privateKey: d.private_key,
    privateKeyType: d.private_key_type,
    serialNumber: d.serial_number,
    expiration: d.expiration,
  };
}

/** `data` of a token lookup. */
export function tokenInfoOf(body: unknown, what: string): TokenInfo {
  const d = parseAnswer(tokenData, (body as { data?: unknown } | undefined)?.data, what);
  return {
    accessor: d.accessor,
    displayName: d.display_name,
    policies: d.policies ?? [],
    ttlSeconds: d.ttl,
    renewable: d.renewable ?? false,
    periodSeconds: d.period,
    explicitMaxTtlSeconds: d.explicit_max_ttl ?? 0,
    numUses: d.num_uses ?? 0,
    orphan: d.orphan ?? false,
    expireTime: d.expire_time ?? undefined,
    creationPath: d.path,
  };
}

/** The `auth` block of a renewal or an unwrap. */
export function authBlockOf(body: unknown, what: string): AuthBlock {
  return parseAnswer(authBlock, (body as { auth?: unknown } | undefined)?.auth, what);
}

/** Vault's `data`/`auth`/`wrap_info` sections are JSON objects; anything else is not Vault talking. */
export function sectionOf(value: unknown, what: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new VaultUnavailableError('vault-bad-response', `Vault's answer to ${what} has a malformed section`);
}

export function warningsOf(body: unknown): string[] {
  const w = (body as { warnings?: unknown } | undefined)?.warnings;
  return Array.isArray(w) ? w.filter((x): x is string => typeof x === 'string') : [];
}
