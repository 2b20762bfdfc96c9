/** The PKI engine's operations of the VaultClient port: issue, sign, and a mount's CA chain. */
import { VaultUnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { splitPemBundle } from '../pki/pem.js';
import { certificateAnswerOf, warningsOf } from './answers.js';
import type { Call } from './exchange.js';
import type {
  CertificateAnswer,
  CertificateRequest,
  RequestContext,
  VaultClient,
  VaultResult,
} from './vault-client.js';

const ttlOf = (ttl: string | number) => (typeof ttl === 'number' ? `${ttl}s` : ttl);

function issueBody(req: CertificateRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { common_name: req.commonName, format: 'pem' };
  if (req.altNames?.length) body.alt_names = req.altNames.join(',');
  if (req.ipSans?.length) body.ip_sans = req.ipSans.join(',');
  if (req.ttl !== undefined) body.ttl = ttlOf(req.ttl);
  if (req.excludeCnFromSans !== undefined) body.exclude_cn_from_sans = req.excludeCnFromSans;
  if (req.keyType) body.key_type = req.keyType;
  if (req.keyBits) body.key_bits = req.keyBits;
  return body;
}

export function pkiOperations(
  call: Call,
  log: Logger | undefined,
): Pick<VaultClient, 'issue' | 'sign' | 'readCaChain'> {
  const certificateCall = async (
    path: string,
    body: Record<string, unknown>,
    ctx?: RequestContext,
  ): Promise<VaultResult<CertificateAnswer>> => {
    const res = await call('POST', path, { body, ctx });
    const data = certificateAnswerOf(res.body, path);
    const warnings = warningsOf(res.body);
    for (const w of warnings) log?.warn('vault warning', { path, certificate: ctx?.certName, warning: w });
    return { data, warnings };
  };

  return {
    issue: (mount, role, req, ctx) => certificateCall(`${mount}/issue/${role}`, issueBody(req), ctx),
    // The CN and SANs travel in the CSR (roles default to use_csr_common_name/use_csr_sans); repeating them
    // in the body only earns two warnings per certificate.
    sign: (mount, role, csr, req, ctx) => {
      const body: Record<string, unknown> = { csr, format: 'pem' };
      if (req.ttl !== undefined) body.ttl = ttlOf(req.ttl);
      return certificateCall(`${mount}/sign/${role}`, body, ctx);
    },

    async readCaChain(mount) {
      const res = await call('GET', `${mount}/cert/ca_chain`);
      const data = (res.body as { data?: { ca_chain?: unknown; certificate?: unknown } })?.data;
      const text =
        typeof data?.ca_chain === 'string' && data.ca_chain
          ? data.ca_chain
          : typeof data?.certificate === 'string'
            ? data.certificate
            : '';
      if (text.trim() === '') {
        throw new VaultUnavailableError(
          'vault-bad-response',
          `mount ${mount} has no CA certificate (not provisioned?)`,
        );
      }
      // Parsed here, so that a malformed CA is Vault's bad answer (retryable), not a local write failure.
      try {
        return splitPemBundle(text, `${mount}/cert/ca_chain`);
      } catch (error) {
        throw new VaultUnavailableError('vault-bad-response', `Vault's answer ${(error as Error).message}`, {
          cause: error,
          retryable: true,
        });
      }
    },
  };
}
