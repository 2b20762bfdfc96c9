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
