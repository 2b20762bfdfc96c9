/**
 * A small, strict parser of the Prometheus text exposition format 0.0.4, written from the format's
 * description independently of src/metrics/render.ts, so the tests check the renderer against the
 * format rather than against itself. It rejects what Prometheus' own parser rejects for the subset
 * we emit: bad names, bad escapes, unquoted values, TYPE after samples, split families, duplicate series,
 * a missing final line feed.
 */

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface ParsedFamily {
  name: string;
  type?: string;
  help?: string;
  samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class PromParseError extends Error {}

function parseFloatGo(text: string, line: number): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text))
    throw new PromParseError(`line ${line}: bad value ${JSON.stringify(text)}`);
  return Number(text);
}

function unescapeText(text: string, allowQuote: boolean, line: number): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = text[++i];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else if (next === '"' && allowQuote) out += '"';
    else throw new PromParseError(`line ${line}: invalid escape \\${next ?? ''}`);
  }
  return out;
}

export function parsePromText(text: string): Map<string, ParsedFamily> {
  if (text.length > 0 && !text.endsWith('\n'))
    throw new PromParseError('the last line must end with a line feed');
  const families = new Map<string, ParsedFamily>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const family = (name: string): ParsedFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const enter = (name: string, line: number) => {
    if (current !== name) {
      if (current !== undefined) closed.add(current);
      if (closed.has(name))
        throw new PromParseError(`line ${line}: lines of ${name} are not grouped together`);
      current = name;
    }
  };

  const lines = text.split('\n');
  lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(raw);
      if (!m) return; // a plain comment
      const [, keyword, name, rest = ''] = m;
      if (!METRIC_NAME.test(name!) || METRIC_NAME.exec(name!)![0] !== name)
        throw new PromParseError(`line ${line}: bad metric name ${name}`);
      enter(name!, line);
      const f = family(name!);
      if (keyword === 'HELP') {
        if (f.help !== undefined) throw new PromParseError(`line ${line}: second HELP for ${name}`);
        f.help = unescapeText(rest, false, line);
      } else {
        if (f.type !== undefined) throw new PromParseError(`line ${line}: second TYPE for ${name}`);
        if (f.samples.length > 0)
          throw new PromParseError(`line ${line}: TYPE for ${name} after its samples`);
        if (!TYPES.has(rest)) throw new PromParseError(`line ${line}: unknown type ${rest}`);
        f.type = rest;
      }
      return;
    }

    let rest = raw.replace(/^[ \t]+/, '');
    const nameMatch = METRIC_NAME.exec(rest);
    if (!nameMatch) throw new PromParseError(`line ${line}: expected a metric name`);
    const name = nameMatch[0];
    rest = rest.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      rest = rest.slice(1);
      for (;;) {
        rest = rest.replace(/^[ \t]+/, '');
        if (rest.startsWith('}')) break;
        const ln = LABEL_NAME.exec(rest);
        if (!ln) throw new PromParseError(`line ${line}: expected a label name`);
        if (ln[0].startsWith('__')) throw new PromParseError(`line ${line}: reserved label name ${ln[0]}`);
        if (ln[0] in labels) throw new PromParseError(`line ${line}: label ${ln[0]} twice`);
        rest = rest.slice(ln[0].length).replace(/^[ \t]+/, '');
        if (!rest.startsWith('="')) throw new PromParseError(`line ${line}: expected ="`);
        rest = rest.slice(2);
        // The value runs to the first quote not preceded by an escaping backslash.
        let end = 0;
        while (end < rest.length && rest[end] !== '"') end += rest[end] === '\\' ? 2 : 1;
        if (end >= rest.length) throw new PromParseError(`line ${line}: unterminated label value`);
        labels[ln[0]] = unescapeText(rest.slice(0, end), true, line);
        rest = rest.slice(end + 1).replace(/^[ \t]+/, '');
        if (rest.startsWith(',')) rest = rest.slice(1);
        else if (!rest.startsWith('}'))
          throw new PromParseError(`line ${line}: expected , or } after a label`);
      }
      rest = rest.slice(1);
    }
    if (!/^[ \t]/.test(rest)) throw new PromParseError(`line ${line}: expected a space before the value`);
    const fields = rest.trim().split(/[ \t]+/);
    if (fields.length < 1 || fields.length > 2 || fields[0] === '')
      throw new PromParseError(`line ${line}: expected value [timestamp]`);
    const value = parseFloatGo(fields[0]!, line);
    if (fields.length === 2 && !/^-?\d+$/.test(fields[1]!))
      throw new PromParseError(`line ${line}: bad timestamp ${fields[1]}`);

    // We emit only counters and gauges, whose family name is the sample name (no _bucket/_sum/_count).
    const fam = name;
    enter(fam, line);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new PromParseError(`line ${line}: duplicate series ${key}`);
    series.add(key);
    const sample: ParsedSample = { name, labels, value };
    if (fields.length === 2) sample.timestamp = Number(fields[1]);
    family(fam).samples.push(sample);
  });
  return families;
}
