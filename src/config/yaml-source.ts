// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} is the config's variable syntax, not a template slip.
/**
 * YAML text -> plain value, keeping the parsed document so that any error found later (by the
 * schema or by resolution) can be reported at the line:column of the key or value it is about.
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
} from 'yaml';
import { ConfigError } from '../errors.js';

export type ConfigPath = readonly (string | number)[];

/** One problem in the config: where (by key path) and why. `at: 'key'` points at the key itself. */
export interface ConfigIssue {
  path: ConfigPath;
  message: string;
  at?: 'key' | 'value';
}

export interface Position {
  line: number;
  col: number;
}

export interface LoadedYaml {
  value: unknown;
  /** Keys of the mapping at `path`, in document order (plain objects reorder integer-like keys). */
  keysAt(path: ConfigPath): string[];
  locate(issue: ConfigIssue): Position;
}

/** `certificates.etcd-peer.actions[0].systemd`; odd keys are quoted so the path stays readable. */
function formatPath(path: ConfigPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

function formatIssue(issue: ConfigIssue, position: Position, source: string | undefined): string {
  const where = source === undefined ? '' : ` in ${source}`;
  const key = issue.path.length === 0 ? '' : `${formatPath(issue.path)}: `;
  return `config error${where} at line ${position.line}:${position.col}: ${key}${issue.message}`;
}

/** Throws one ConfigError listing every issue (first one first), with structured details of the first. */
export function throwIssues(
  issues: readonly ConfigIssue[],
  locate: (i: ConfigIssue) => Position,
  source?: string,
): never {
  const located = issues
    .map((issue, index) => ({ issue, index, position: locate(issue) }))
    .sort(
      (a, b) => a.position.line - b.position.line || a.position.col - b.position.col || a.index - b.index,
    );
  const first = located[0];
  if (first === undefined) throw new ConfigError('config error: (no issue given)');
  const certificate =
    first.issue.path[0] === 'certificates' && typeof first.issue.path[1] === 'string'
      ? first.issue.path[1]
      : undefined;
  throw new ConfigError(located.map((l) => formatIssue(l.issue, l.position, source)).join('\n'), {
    details: {
      source,
      line: first.position.line,
      column: first.position.col,
      key: first.issue.path.length > 0 ? formatPath(first.issue.path) : undefined,
      certificate,
      issues: located.length,
    },
  });
}

/** `[${host.fqdn}]` is a YAML error (`{` opens a flow mapping); say how to write it. */
function hintFor(text: string, lineCounter: LineCounter, offset: number): string {
  const { line } = lineCounter.linePos(offset);
  const start = lineCounter.lineStarts[line - 1] ?? 0;
  const end = lineCounter.lineStarts[line] ?? text.length;
  const lineText = text.slice(start, end);
  return /[[{,]\s*\$\{/.test(lineText)
    ? ' (inside [ ] or { }, quote values that contain variables: ["${host.fqdn}"])'
    : '';
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

/**
 * How deep collections may nest. A config is at most 6 levels deep (certificates.NAME.actions[0].exec[0]);
 * anything near this is hostile, and the parser and every walk after it recurse once per level.
 */
const MAX_YAML_DEPTH = 64;

const tooDeep = `the YAML is nested more than ${MAX_YAML_DEPTH} levels deep (a config needs fewer than 10)`;

/** The first collection nested deeper than MAX_YAML_DEPTH, walked without recursion. */
function tooDeepNode(doc: Document): { range?: readonly number[] | null } | undefined {
  const stack: { node: unknown; depth: number }[] = [{ node: doc.contents, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop() as { node: unknown; depth: number };
    if (isMap(node) || isSeq(node)) {
      if (depth >= MAX_YAML_DEPTH) return node;
      for (const item of node.items as unknown[]) {
        if (isPair(item)) {
          stack.push({ node: item.key, depth: depth + 1 }, { node: item.value, depth: depth + 1 });
        } else stack.push({ node: item, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/** A stack overflow anywhere in parsing (the yaml library reports it as RESOURCE_EXHAUSTION). */
function isOverflow(error: { code?: unknown; message?: unknown }): boolean {
  return error.code === 'RESOURCE_EXHAUSTION' || /call stack/i.test(String(error.message));
}

/** Parses YAML text; syntax errors, warnings (unknown tags), multiple documents and alias bombs are ConfigErrors. */
export function loadYaml(text: string, source?: string): LoadedYaml {
  const lineCounter = new LineCounter();
  const position = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throwIssues([{ path: [], message: tooDeep }], () => ({ line: 1, col: 1 }), source);
  }
  const overflow = doc.errors.find(isOverflow);
  if (overflow) throwIssues([{ path: [], message: tooDeep }], () => position(overflow.pos[0]), source);
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    const offsets = new Map<ConfigIssue, number>(
      problems.map((p) => [
        { path: [], message: `invalid YAML: ${p.message}${hintFor(text, lineCounter, p.pos[0])}` },
        p.pos[0],
      ]),
    );
    throwIssues([...offsets.keys()], (issue) => position(offsets.get(issue) ?? 0), source);
  }
  const deep = tooDeepNode(doc);
  if (deep) throwIssues([{ path: [], message: tooDeep }], () => position(deep.range?.[0] ?? 0), source);

  // YAML 1.2 reads 0644 as decimal 644; keep 0o644 recognisable as octal for the file modes.
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'number' && node.format === 'OCT') node.value = `0o${node.value.toString(8)}`;
    },
  });

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throwIssues(
      [{ path: [], message: `invalid YAML: ${(error as Error).message}` }],
      () => ({ line: 1, col: 1 }),
      source,
    );
  }

  const walk = (path: ConfigPath) => walkPath(doc, path);
  return {
    value,
    keysAt(path) {
      const { node, complete } = walk(path);
      if (!complete || !isMap(node)) return [];
      return node.items.map((pair) => keyText(pair.key)).filter((k): k is string => k !== undefined);
    },
    locate(issue) {
      const { node, keyNode, complete } = walk(issue.path);
      const target = complete && issue.at !== 'key' ? (node ?? keyNode) : (keyNode ?? node);
      const range = (target as { range?: [number, number, number] } | null | undefined)?.range;
      return range ? position(range[0]) : { line: 1, col: 1 };
    },
  };
}

/** Follows a key path through the document; stops at the deepest node that exists. */
function walkPath(doc: Document, path: ConfigPath): { node: unknown; keyNode: unknown; complete: boolean } {
  let node: unknown = doc.contents;
  let keyNode: unknown;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    let found = false;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(segment));
      if (pair) {
        found = true;
        keyNode = pair.key;
        next = pair.value;
      }
    } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
      found = true;
      next = node.items[segment];
      keyNode = next;
    }
    if (!found) return { node, keyNode, complete: false };
    node = next;
  }
  if (isAlias(node)) node = node.resolve(doc);
  return { node, keyNode, complete: true };
}
