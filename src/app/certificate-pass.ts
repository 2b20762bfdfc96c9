/**
 * One pass over the configured certificates: decide per set (with a reason), issue only what is due,
 * verify before exposing, switch each set atomically, then run each affected unit's action once.
 * Talks to the world only through the ports it is given, so tests and `run` reuse it as is.
 * Just over 300 lines: the pass is one sequence (decide, issue, verify, switch, act, roll back on a failed health
 * check) whose steps share the per-set state; the decisions it makes live elsewhere (plan/renewal.ts,
 * pki/check-set.ts, plan/actions.ts), what remains here is their order and the error handling between them.
 */
import type { AgentConfig, CertSpec, FilesSpec } from '../config/types.js';
import { AgentError } from '../errors.js';
import type { CertificateSetReading } from '../files/read-set.js';
import type { WriteCertificateSetResult } from '../files/write-set.js';
import type { Logger } from '../log.js';
import { prepareCertificateSet } from '../pki/assemble.js';
import { createCsr } from '../pki/csr.js';
import { generateKey } from '../pki/keys.js';
import type { PlannedAction } from '../plan/actions.js';
import { planActions } from '../plan/actions.js';
import { decideSet, type ReissueVerdict, type RenewalSchedule, type SetDecision } from '../plan/renewal.js';
import type { ActionRecord } from '../services/run-actions.js';
import type { CertificateAnswer, VaultClient, VaultResult } from '../vault/vault-client.js';

export interface CertificateStore {
  read(spec: FilesSpec): Promise<CertificateSetReading>;
  write(
    spec: FilesSpec,
    files: { cert: string; key: string; ca: string; fullchain: string },
    recheck?: { generation: string | undefined; stillNeeded: (now: CertificateSetReading) => boolean },
  ): Promise<WriteCertificateSetResult>;
  /** Switch back to the previous generation; false when there is none. */
  rollback(spec: FilesSpec): Promise<boolean>;
}

export interface PassPorts {
  vault: VaultClient;
  store: CertificateStore;
  runActions: (planned: PlannedAction[]) => Promise<ActionRecord[]>;
  log: Logger;
  now: () => Date;
  /** Throws when the service does not come back healthy with the new set. */
  healthCheck?: (spec: CertSpec) => Promise<void>;
}

export interface PassOptions {
  dryRun?: boolean;
  /** Sets issued at once (Vault handles parallel sign requests well; keep it modest for a fleet). */
  concurrency?: number;
  /** When each certificate is due: the host's fleet-jittered schedule (plan/renewal.ts). */
  renewalTime: RenewalSchedule;
  /**
   * The CA each mount issues with, when the caller keeps them (the `run` loop); otherwise read from Vault
   * (one unauthenticated request per mount). Updated in place from every sign/issue answer.
   */
  mountCas?: Map<string, string>;
}

export type CertificateAction = 'up-to-date' | 'issued' | 'would-issue' | 'failed' | 'rolled-back';

export interface CertificateOutcome {
  name: string;
  action: CertificateAction;
  verdict?: ReissueVerdict;
  serial?: string;
  notAfter?: Date;
  renewalTime?: Date;
  changed: boolean;
  warnings: string[];
  error?: AgentError;
}

export interface PassResult {
  outcomes: CertificateOutcome[];
  actions: ActionRecord[];
  /** The first failure in config order (its exit code is the pass's), if any. */
  failure?: AgentError;
  /** The CA of every mount used, as last seen. */
  mountCas: Map<string, string>;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function asAgentError(error: unknown, name: string): AgentError {
  if (AgentError.is(error)) return error;
  return new AgentError(
    'internal',
    1,
    `certificate "${name}": ${(error as Error)?.message ?? String(error)}`,
    {
      cause: error,
    },
  );
}

async function requestCertificate(
  spec: CertSpec,
  vault: VaultClient,
): Promise<{ result: VaultResult<CertificateAnswer>; keyPem?: string; keyPublicDer?: Buffer }> {
  const req = {
    commonName: spec.commonName,
    altNames: spec.dnsSans,
    ipSans: spec.ipSans,
    ttl: spec.ttlSeconds,
  };
  if (spec.mode === 'issue') {
    const result = await vault.issue(
      spec.mount,
      spec.role,
      { ...req, keyType: spec.key.type, keyBits: spec.key.bits },
      { certName: spec.name },
    );
    return { result };
  }
  const key = await generateKey(spec.key);
  const csr = createCsr(key, { commonName: spec.commonName, dnsSans: spec.dnsSans, ipSans: spec.ipSans });
  const result = await vault.sign(spec.mount, spec.role, csr, req, { certName: spec.name });
  return { result, keyPem: key.privateKeyPem, keyPublicDer: key.publicKeyDer };
}

/** The outcome of a set that needs nothing (up to date, or written by another process meanwhile). */
function upToDate(name: string, inspection: SetDecision, warnings: string[]): CertificateOutcome {
  return {
    name,
    action: 'up-to-date',
    serial: inspection.leaf?.serial,
    notAfter: inspection.leaf?.notAfter,
    renewalTime: inspection.renewalTime,
    changed: false,
    warnings,
  };
}

export async function runCertificatePass(
  config: AgentConfig,
  ports: PassPorts,
  options: PassOptions,
): Promise<PassResult> {
  const { vault, store, log } = ports;
  const specs = config.certificates;

  // Every set as it is on disk, read once, up front.
  const readings = new Map<string, CertificateSetReading | Error>();
  await Promise.all(
    specs.map(async (spec) => {
      readings.set(spec.name, await store.read(spec.files).catch((error: unknown) => error as Error));
    }),
  );
  // One CA read per mount that has a set on disk (unauthenticated, cheap): it tells "the CA changed". A set
  // that is issued now is verified against the CA in Vault's own answer, so a first boot reads no CA.
  const caByMount = options.mountCas ?? new Map<string, string>();
  const mounts = [
    ...new Set(
      specs
        .filter((s) => {
          const r = readings.get(s.name);
          return r !== undefined && !(r instanceof Error) && r.files.cert !== undefined;
        })
        .map((s) => s.mount),
    ),
  ].filter((m) => !caByMount.has(m));
  await Promise.all(
    mounts.map(async (mount) => {
      const chain = await vault.readCaChain(mount);
      caByMount.set(mount, chain[0] as string);
    }),
  );
  const schedule = options.renewalTime;

  const outcomes = await mapLimit(
    specs,
    options.concurrency ?? 4,
    async (spec): Promise<CertificateOutcome> => {
      const clog = log.child({ certificate: spec.name });
      try {
        const reading = readings.get(spec.name);
        if (reading === undefined || reading instanceof Error) throw reading ?? new Error('set not read');
        const inspection = decideSet({
          spec,
          files: { cert: reading.files.cert, key: reading.files.key, ca: reading.files.ca },
          now: ports.now(),
          schedule,
          mountCaPem: caByMount.get(spec.mount),
        });
        if (!inspection.verdict) {
          clog.info('certificate up to date', {
            not_after: inspection.leaf?.notAfter.toISOString(),
            renew_at: inspection.renewalTime?.toISOString(),
          });
          return upToDate(spec.name, inspection, []);
        }
        const verdict = inspection.verdict;
        if (options.dryRun) {
          clog.info('would issue', { reason: verdict.reason, detail: verdict.message });
          return { name: spec.name, action: 'would-issue', verdict, changed: false, warnings: [] };
        }
        clog.info('issuing', {
          reason: verdict.reason,
          detail: verdict.message,
          mount: spec.mount,
          role: spec.role,
        });
        const { result, keyPem, keyPublicDer } = await requestCertificate(spec, vault);
        const prepared = prepareCertificateSet({
          name: spec.name,
          data: result.data,
          privateKeyPem: keyPem,
          keyPublicDer,
          expected: {
            commonName: spec.commonName,
            dnsSans: spec.dnsSans,
            ipSans: spec.ipSans,
            usages: spec.usages,
          },
          now: ports.now(),
        });
        if (prepared.verification.clockSkewSeconds) {
          clog.warn('certificate starts in the future of the local clock: check time sync', {
            skew_s: prepared.verification.clockSkewSeconds,
          });
        }
        // Another process (a second bootstrap) may switch the set while this one waited for Vault or for
        // the set's lock: then the writer asks again whether the set on disk still needs this one.
        let kept: SetDecision | undefined;
        const written = await store.write(
          spec.files,
          {
            cert: prepared.pems.cert,
            key: prepared.pems.key,
            ca: prepared.pems.ca,
            fullchain: prepared.pems.fullchain ?? prepared.pems.cert,
          },
          {
            generation: reading.generation,
            stillNeeded: (onDisk) => {
              const again = decideSet({
                spec,
                files: { cert: onDisk.files.cert, key: onDisk.files.key, ca: onDisk.files.ca },
                now: ports.now(),
                schedule,
                mountCaPem: prepared.mountCa,
              });
              kept = again.verdict ? undefined : again;
              return kept === undefined;
            },
          },
        );
        for (const w of written.warnings) clog.warn('write warning', { detail: w });
        if (written.superseded && kept) {
          clog.info('another process wrote this set meanwhile; keeping it', {
            generation: written.generation,
            not_after: kept.leaf?.notAfter.toISOString(),
          });
          return upToDate(spec.name, kept, result.warnings);
        }
        caByMount.set(spec.mount, prepared.mountCa);
        clog.info('certificate written', {
          dir: spec.files.dir,
          generation: written.generation,
          serial: prepared.leaf.serial,
          not_after: prepared.leaf.notAfter.toISOString(),
        });
        return {
          name: spec.name,
          action: 'issued',
          verdict,
          serial: prepared.leaf.serial,
          notAfter: prepared.leaf.notAfter,
          renewalTime: schedule(spec, prepared.leaf.notBefore, prepared.leaf.notAfter),
          changed: written.changed,
          warnings: result.warnings,
        };
      } catch (error) {
        const e = asAgentError(error, spec.name);
        clog.error('certificate failed', { error: e.message, code: e.code });
        return { name: spec.name, action: 'failed', changed: false, warnings: [], error: e };
      }
    },
  );

  const changed = outcomes.filter((o) => o.changed).map((o) => o.name);
  let actions: ActionRecord[] = [];
  let failure = outcomes.find((o) => o.error)?.error;
  const act = async (names: string[]) => {
    try {
      actions.push(...(await ports.runActions(planActions(names, specs))));
    } catch (error) {
      actions.push(...((error as { records?: ActionRecord[] }).records ?? []));
      failure = failure ?? asAgentError(error, 'actions');
    }
  };
  if (!options.dryRun && changed.length > 0) {
    actions = [];
    await act(changed);
    // Health-gated: a set whose service does not come back healthy is rolled back and its action runs again.
    for (const outcome of outcomes) {
      const spec = specs.find((s) => s.name === outcome.name);
      if (!outcome.changed || !spec?.healthCheck || !ports.healthCheck) continue;
      try {
        await ports.healthCheck(spec);
        log.info('health check passed', { certificate: spec.name });
      } catch (error) {
        const e = asAgentError(error, spec.name);
        const restored = await store.rollback(spec.files).catch(() => false);
        log.error('health check failed: restored the previous certificate set', {
          certificate: spec.name,
          error: e.message,
          restored,
        });
        await act([spec.name]);
        outcome.action = 'rolled-back';
        outcome.error = e;
        failure = failure ?? e;
      }
    }
  }
  return { outcomes, actions, failure, mountCas: caByMount };
}
