/**
 * Two rules of docs/ARCHITECTURE.md, checked on the source:
 * - Layers point one way: an import between folders of src/ goes down LAYERS (below), never up or sideways,
 *   so there is no import cycle between folders either.
 * - The pure core stays pure: these files import no file system, process spawning, network I/O, execa or
 *   node-vault (node:net is allowed: its isIP is pure). Only the edges (files/, services/, vault/, host/,
 *   app/, metrics/textfile.ts, util/program.ts, ...) may.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/openbao.js';

const FORBIDDEN =
  /from '(node:fs|node:fs\/promises|fs|node:child_process|child_process|execa|node-vault|node:http|node:https|node:dns|[./]+\/files\/local-fs\.js)'/;

const PURE: string[] = [
  ...readdirSync(join(REPO_ROOT, 'src/config')).map((f) => `src/config/${f}`),
  ...readdirSync(join(REPO_ROOT, 'src/plan')).map((f) => `src/plan/${f}`),
  ...readdirSync(join(REPO_ROOT, 'src/pki')).map((f) => `src/pki/${f}`),
  'src/provision/desired-state.ts',
  'src/provision/diff.ts',
  'src/kube/kubeconfig.ts',
  'src/kube/exec-credential.ts',
  'src/metrics/render.ts',
  'src/app/status-report.ts',
  'src/vault/retry.ts',
  'src/vault/settings.ts',
  'src/vault/map-error.ts',
  'src/util/ip.ts',
  'src/util/backoff.ts',
  'src/util/duration.ts',
  'src/types/host-facts.ts',
].filter((f) => f.endsWith('.ts'));

/**
 * The layer order of docs/ARCHITECTURE.md, top first: a folder (or a root module such as errors.ts) may import
 * only folders of a later row. Folders of one row are independent of each other.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['main'],
  ['cli'],
  ['app'],
  ['provision'],
  ['services', 'kube', 'metrics', 'vault', 'host'],
  ['plan', 'files'],
  ['pki'],
  ['config'],
  ['util', 'types'],
  ['log', 'errors', 'version'],
];
const RANK = new Map(LAYERS.flatMap((row, i) => row.map((folder) => [folder, i] as const)));

const SRC = join(REPO_ROOT, 'src');

/** The folder of a path under src/ (`app`), or the root module's name (`errors` for src/errors.ts). */
function folderOf(path: string): string {
  const [first, second] = relative(SRC, path).split('/');
  return second === undefined ? (first ?? '').replace(/\.(d\.)?ts$|\.js$/, '') : (first ?? '');
}

/** Relative specifiers of every static import/export and dynamic import() in a module's text. */
function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g)].map(
    (m) => m[2] as string,
  );
}

interface Edge {
  from: string;
  to: string;
  file: string;
}

/** The folder-to-folder imports of one module (imports within its own folder left out). */
function edgesOf(file: string, text: string): Edge[] {
  const from = folderOf(file);
  return importsOf(text)
    .map((spec) => ({ from, to: folderOf(resolve(dirname(file), spec)), file: relative(REPO_ROOT, file) }))
    .filter((e) => e.to !== e.from);
}

/** Why an import from one folder to another breaks the order; undefined when it points down. */
function problemOf(edge: Edge): string | undefined {
  const from = RANK.get(edge.from);
  const to = RANK.get(edge.to);
  if (from === undefined || to === undefined) return `${edge.from} -> ${edge.to}: folder not in LAYERS`;
  if (to <= from)
    return `${edge.from} -> ${edge.to} points ${to < from ? 'back up' : 'sideways'} (${edge.file})`;
  return undefined;
}

/** Every cycle's folders, one entry per strongly connected component of more than one folder. */
function cyclesOf(edges: readonly Pick<Edge, 'from' | 'to'>[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
  const reach = (start: string): Set<string> => {
    const seen = new Set<string>();
    const stack = [start];
    while (stack.length > 0) {
      for (const n of next.get(stack.pop() as string) ?? []) {
        if (!seen.has(n)) {
          seen.add(n);
          stack.push(n);
        }
      }
    }
    return seen;
  };
  const reachable = new Map([...next.keys()].map((f) => [f, reach(f)]));
  const cycles = new Map<string, string[]>();
  for (const [f, seen] of reachable) {
    if (!seen.has(f)) continue;
    const members = [...seen].filter((g) => reachable.get(g)?.has(f)).sort();
    cycles.set(members.join(','), members);
  }
  return [...cycles.values()];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const EDGES = sourceFiles(SRC).flatMap((file) => edgesOf(file, readFileSync(file, 'utf8')));

describe('layers point one way', () => {
  it('every folder of src/ has its row in LAYERS, and every row names folders that exist', () => {
    const present = new Set(sourceFiles(SRC).map(folderOf));
    expect([...present].filter((f) => !RANK.has(f))).toEqual([]);
    expect([...RANK.keys()].filter((f) => !present.has(f))).toEqual([]);
  });

  it('every import between folders points down the layers', () => {
    expect(EDGES.length).toBeGreaterThan(50);
    expect(EDGES.map(problemOf).filter(Boolean)).toEqual([]);
  });

  it('no import cycle between folders', () => {
    expect(cyclesOf(EDGES)).toEqual([]);
  });

  it('the check can fail: a back edge, a sideways edge, a dynamic import and a cycle are found', () => {
    const app = join(SRC, 'app/x.ts');
    const back = edgesOf(app, "import type { CliIo } from '../cli/run-cli.js';");
    expect(back).toEqual([{ from: 'app', to: 'cli', file: 'src/app/x.ts' }]);
    expect(problemOf(back[0] as Edge)).toMatch(/app -> cli points back up/);
    const sideways = edgesOf(join(SRC, 'vault/x.ts'), "export { a } from '../host/a.js';");
    expect(problemOf(sideways[0] as Edge)).toMatch(/vault -> host points sideways/);
    const dynamic = edgesOf(join(SRC, 'pki/x.ts'), "const m = await import('../vault/vault-client.js');");
    expect(dynamic.map(problemOf)).toEqual([expect.stringMatching(/pki -> vault points back up/)]);
    const root = edgesOf(join(SRC, 'errors.ts'), "import { redact } from './log.js';");
    expect(problemOf(root[0] as Edge)).toMatch(/errors -> log points sideways/);
    // Commented-out imports and imports inside one folder are not edges.
    expect(
      edgesOf(app, "// import { x } from '../cli/a.js';\n/* from '../cli/b.js' */\nimport './y.js';"),
    ).toEqual([]);
    expect(cyclesOf([...EDGES, { from: 'config', to: 'app' }])).toEqual([
      expect.arrayContaining(['app', 'config']),
    ]);
  });
});

/**
 * Every module of src/ is tested by a file of the same base name somewhere under test/ (`src/pki/pem.ts` by a
 * `pem.test.ts` at any depth), or is listed here with the reason it is not: types only, re-exports, a table checked
 * elsewhere, or behaviour covered by a test of another name (named, so a reader can find it). The check fails
 * for a listed module that now has a same-name test or no longer exists, so the list cannot rot.
 */
const UNTESTED_BY_NAME: Record<string, string> = {
  'src/app/check.ts': 'covered by test/app/check-status.test.ts (the `check` command end to end, exit codes)',
  'src/app/cli-context.ts':
    'types and two small helpers, covered by test/cli/options.test.ts and test/cli/fast-argv.test.ts',
  'src/app/engineer-certificate.ts':
    'covered by test/kube/kubectl.test.ts (the engineer commands end to end against OpenBao)',
  'src/app/kube-credential.ts':
    'covered by test/kube/kubectl.test.ts and test/app/hostile-local-files.test.ts (`kube-credential`)',
  'src/app/load-config.ts': 'covered by test/app/bad-config.test.ts (the config file read through the agent)',
  'src/app/publish.ts':
    'covered by test/app/run.test.ts and test/metrics/textfile.test.ts (state and metrics after a pass)',
  'src/app/service-account-files.ts': 'covered by test/app/service-account-key.test.ts',
  'src/app/state.ts': 'covered by test/app/inspect-local.test.ts and test/plan/token-upkeep.test.ts',
  'src/app/status-report.ts': 'covered by test/app/check-status.test.ts (`status` table and JSON)',
  'src/app/status.ts': 'covered by test/app/check-status.test.ts (the `status` command)',
  'src/app/token-create.ts': 'covered by test/app/token.test.ts (`token create`)',
  'src/app/vault-session.ts':
    'covered by test/app/token.test.ts and test/provision/provision.test.ts (operator commands)',
  'src/app/wiring.ts': 'covered by test/app/certificate-pass.test.ts and test/app/bootstrap.test.ts',
  'src/cli/commands.ts': 'command table, covered by test/cli/options.test.ts and test/cli/help.test.ts',
  'src/cli/global-options.ts':
    'option table, covered by test/cli/options.test.ts and test/cli/fast-argv.test.ts',
  'src/cli/kube.ts': 'command table, covered by test/cli/help.test.ts and test/kube/kubectl.test.ts',
  'src/cli/preload.ts': 'covered by test/security/code-cache.test.ts (the launcher preloads every command)',
  'src/cli/run-cli.ts': 'covered by test/cli/fast-argv.test.ts and test/cli/help.test.ts',
  'src/cli/version.ts': 'one string, covered by test/cli/help.test.ts',
  'src/config/index.ts': 're-exports',
  'src/config/outputs-schema.ts': 'schema, covered by test/config/kubeconfigs.test.ts',
  'src/config/resolve-outputs.ts': 'covered by test/config/kubeconfigs.test.ts',
  'src/config/resolve.ts': 'covered by test/config/parse-config.test.ts and test/config/presets.test.ts',
  'src/config/schema.ts':
    'schema, covered by test/config/parse-config.test.ts and test/config/bad-configs.test.ts',
  'src/config/types.ts': 'types only',
  'src/config/value-schemas.ts':
    'value schemas, covered by test/config/bad-configs.test.ts and test/config/hostile-config.test.ts',
  'src/config/yaml-source.ts':
    'covered by test/config/bad-configs.test.ts (positions in errors, duplicate keys)',
  'src/errors.ts': 'error classes, asserted by code and exit code in nearly every test',
  'src/files/atomic-file.ts': 'covered by test/app/token-file.test.ts and test/files/crash-safety.test.ts',
  'src/files/layout.ts':
    'covered by test/files/write-set.test.ts, test/files/lock.test.ts and test/files/crash-safety.test.ts',
  'src/files/local-fs.ts': 'thin wrappers over node:fs/promises, covered by every test in test/files',
  'src/files/make-directories.ts':
    'covered by test/files/hostile-owner.test.ts and test/faults/target-dir.test.ts',
  'src/files/owned-file.ts':
    'covered by test/app/kubeconfig-files.test.ts and test/app/service-account-key.test.ts',
  'src/files/read-set.ts': 'covered by test/files/safety.test.ts and test/files/write-set.test.ts',
  'src/files/recover.ts': 'covered by test/files/crash-safety.test.ts and test/files/write-set.test.ts',
  'src/files/repair.ts':
    'covered by test/files/write-set.test.ts and test/files/owners.test.ts (drift repair)',
  'src/files/root-owned.ts': 'covered by test/files/hostile-owner.test.ts',
  'src/files/set-directory.ts': 'covered by test/files/hostile-owner.test.ts and test/app/leftovers.test.ts',
  'src/files/set-files.ts': 'covered by test/files/write-set.test.ts (through test/support/set-writer.ts)',
  'src/log.ts': 'covered by test/security/redaction.test.ts',
  'src/main.ts': 'entry point, covered by every test that runs the bundled agent (test/app)',
  'src/metrics/types.ts': 'types only',
  'src/pki/asn1.ts': 'typed node-forge helpers, covered by test/pki/csr.test.ts (CSRs parsed by openssl)',
  'src/pki/issued.ts': 'types only',
  'src/provision/provision-file.ts': 'covered by test/provision/desired-state.test.ts',
  'src/provision/provision-settings.ts': 'covered by test/provision/desired-state.test.ts',
  'src/provision/role-fields.ts': 'covered by test/provision/desired-state.test.ts',
  'src/provision/vault-state.ts': 'covered by test/provision/provision.test.ts (against OpenBao)',
  'src/types/node-forge-lib.d.ts': 'types only',
  'src/util/zod.ts': 'zod set-up and re-exports',
  'src/vault/auth-method.ts': 'types only',
  'src/vault/exchange.ts':
    'covered by test/vault/client.test.ts, test/vault/failover.test.ts and test/vault/endpoints.test.ts',
  'src/vault/pki-ops.ts': 'covered by test/vault/client.test.ts and test/pki/openbao-sign.test.ts',
  'src/vault/requests.ts': 'covered by test/vault/client.test.ts and test/vault/transport.test.ts',
  'src/vault/token-ops.ts': 'covered by test/vault/client.test.ts and test/app/token.test.ts',
  'src/vault/vault-client.ts': 'types only (the VaultClient port)',
  'src/version.ts': 'build-time constants, covered by test/cli/help.test.ts and test/build/bundle.test.ts',
};

const TEST = join(REPO_ROOT, 'test');

/** Base names (`pem` for `pem.test.ts`) of every test file under a folder. */
function testedNames(dir: string): Set<string> {
  const names = sourceFiles(dir)
    .map((path) => path.split('/').pop() as string)
    .filter((name) => name.endsWith('.test.ts'))
    .map((name) => name.slice(0, -'.test.ts'.length));
  return new Set(names);
}

/** Base name of a source module: `pem` for `src/pki/pem.ts`, `node-forge-lib` for a `.d.ts`. */
function baseOf(path: string): string {
  return (path.split('/').pop() as string).replace(/(\.d)?\.ts$/, '');
}

/** What is wrong between src/, the test names and the table: one line per problem. */
function mirrorProblems(
  modules: readonly string[],
  tested: ReadonlySet<string>,
  table: Readonly<Record<string, string>>,
): string[] {
  const problems: string[] = [];
  for (const module of modules) {
    if (!tested.has(baseOf(module)) && table[module] === undefined)
      problems.push(`${module}: no test/**/${baseOf(module)}.test.ts and no entry in UNTESTED_BY_NAME`);
  }
  const present = new Set(modules);
  for (const [module, reason] of Object.entries(table)) {
    if (!present.has(module)) problems.push(`${module}: listed in UNTESTED_BY_NAME but no longer exists`);
    else if (tested.has(baseOf(module)))
      problems.push(`${module}: has a same-name test now, remove it from UNTESTED_BY_NAME`);
    if (reason.trim() === '') problems.push(`${module}: UNTESTED_BY_NAME gives no reason`);
  }
  return problems;
}

describe('tests mirror src by file name', () => {
  const modules = sourceFiles(SRC).map((path) => relative(REPO_ROOT, path));

  it('every src module with behaviour has a test file of the same name', () => {
    expect(modules.length).toBeGreaterThan(100);
    expect(mirrorProblems(modules, testedNames(TEST), UNTESTED_BY_NAME)).toEqual([]);
  });

  it('the check can fail: an unlisted module, a stale entry, a vanished module and an empty reason', () => {
    const tested = new Set(['pem']);
    expect(mirrorProblems(['src/pki/pem.ts', 'src/pki/chain.ts'], tested, {})).toEqual([
      'src/pki/chain.ts: no test/**/chain.test.ts and no entry in UNTESTED_BY_NAME',
    ]);
    expect(
      mirrorProblems(['src/pki/pem.ts', 'src/types/x.d.ts'], tested, {
        'src/pki/pem.ts': 'covered elsewhere',
        'src/pki/gone.ts': 'types only',
        'src/types/x.d.ts': ' ',
      }),
    ).toEqual([
      'src/pki/pem.ts: has a same-name test now, remove it from UNTESTED_BY_NAME',
      'src/pki/gone.ts: listed in UNTESTED_BY_NAME but no longer exists',
      'src/types/x.d.ts: UNTESTED_BY_NAME gives no reason',
    ]);
    expect(baseOf('src/types/node-forge-lib.d.ts')).toBe('node-forge-lib');
    expect(testedNames(TEST).has('architecture')).toBe(true);
  });
});

describe('architecture', () => {
  it.each(PURE)('%s imports no I/O module', (file) => {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    const bad = text.split('\n').filter((line) => FORBIDDEN.test(line));
    expect(bad).toEqual([]);
  });

  it('the check can fail', () => {
    expect(FORBIDDEN.test("import { readFile } from 'node:fs/promises';")).toBe(true);
    expect(FORBIDDEN.test("import { readFile } from '../files/local-fs.js';")).toBe(true);
  });
});
