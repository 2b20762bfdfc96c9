/**
 * `token create --cluster C --node-type T [--period D] [--wrap-ttl D]`: mints a node token through the
 * node type's token role (periodic, orphan, exactly one policy). The token goes to stdout and nowhere
 * else; stderr gets its accessor and policies.
 */
import { NODE_TYPE_NAMES, type NodeType } from '../config/presets.js';
import { ExitCode, UsageError, VaultUnavailableError } from '../errors.js';
import { TOKEN_NODE_TYPES } from '../provision/desired-state.js';
import { resolveProvisionSettings } from '../provision/provision-settings.js';
import { parseDurationSeconds } from '../util/duration.js';
import { type CliIo, loggerFor } from './cli-context.js';
import { loadProvisionFile } from './provision.js';
import { openSession, type SessionArgs, sessionAuth, sessionSettings } from './vault-session.js';

export interface TokenCreateArgs extends SessionArgs {
  action: string;
  cluster: string;
  nodeType: string;
  period?: string;
  wrapTtl?: string;
  provisionConfig?: string;
}

function checkDuration(flag: string, value: string | undefined): void {
  if (value !== undefined && !((parseDurationSeconds(value) ?? 0) > 0)) {
    throw new UsageError(`${flag} "${value}" is not a duration such as 72h`);
  }
}

export async function runTokenCreate(args: TokenCreateArgs, io: CliIo): Promise<number> {
  const log = loggerFor(args, io);
  if (args.action !== 'create') throw new UsageError(`unknown token action "${args.action}" (have: create)`);
  const nodeType = args.nodeType as NodeType;
  if (!TOKEN_NODE_TYPES.includes(nodeType)) {
    throw new UsageError(
      NODE_TYPE_NAMES.includes(nodeType)
        ? `--node-type ${nodeType}: engineers log in with their own auth method; node tokens are for ${TOKEN_NODE_TYPES.join(', ')}`
        : `--node-type "${args.nodeType}" is not one of ${TOKEN_NODE_TYPES.join(', ')}`,
    );
  }
  checkDuration('--period', args.period);
  checkDuration('--wrap-ttl', args.wrapTtl);
  const provision = resolveProvisionSettings(
    { cluster: args.cluster },
    await loadProvisionFile(args.provisionConfig),
  );
  const role = provision.tokenRoles[nodeType];

  const settings = sessionSettings(args, io, log);
  const vault = openSession(settings, undefined, args, log);
  await sessionAuth(args, io, log).login(vault);
  const body: Record<string, unknown> = {
    display_name: `${provision.cluster}-${nodeType}`,
    meta: { cluster: provision.cluster, node_type: nodeType, created_by: 'vault-pki-agent token create' },
  };
  // Overriding the role's period needs a root or sudo token (Vault's rule for periodic tokens).
  if (args.period) body.period = args.period;
  const answer = await vault.write(`auth/token/create/${role}`, body, { wrapTtl: args.wrapTtl });

  if (args.wrapTtl) {
    const wrapped = answer.wrapInfo?.token;
    if (typeof wrapped !== 'string') {
      throw new VaultUnavailableError(
        'vault-bad-response',
        `Vault did not wrap the answer of auth/token/create/${role}`,
      );
    }
    log.info('response-wrapped node token created', {
      cluster: provision.cluster,
      node_type: nodeType,
      token_role: role,
      wrap_ttl_s: answer.wrapInfo?.ttl,
      wrapping_accessor: answer.wrapInfo?.accessor,
    });
    io.stdout(`${wrapped}\n`);
    return ExitCode.ok;
  }
  const auth = answer.auth ?? {};
  const clientToken = auth.client_token;
  if (typeof clientToken !== 'string') {
    throw new VaultUnavailableError(
      'vault-bad-response',
      `Vault returned no token from auth/token/create/${role}`,
    );
  }
  log.info('node token created', {
    cluster: provision.cluster,
    node_type: nodeType,
    token_role: role,
    accessor: auth.accessor,
    policies: Array.isArray(auth.policies) ? auth.policies.join(',') : undefined,
    period_s: auth.lease_duration,
    orphan: auth.orphan,
  });
  for (const w of answer.warnings) log.warn('vault warning', { warning: w });
  io.stdout(`${clientToken}\n`);
  return ExitCode.ok;
}
