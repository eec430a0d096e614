/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for `bench e2e` (which scrapes
 * the daemons' `/metrics`) and for the tests that check what the endpoint serves. It rejects what
 * Prometheus would reject: malformed lines, bad names and escapes, a `# TYPE` after its samples
 * or twice, samples of one series twice, and (for histograms) buckets that are not cumulative,
 * a missing `+Inf` bucket or one that differs from `_count`.
 */

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  /** The sample's own name (e.g. `x_bucket`). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: PromType;
  help: string;
  samples: PromSample[];
}

export interface HistogramSeries {
  /** The series' labels without `le`. */
  labels: Record<string, string>;
  /** [upper bound, cumulative count], ascending, ending with [Infinity, count]. */
  buckets: Array<[number, number]>;
  sum: number;
  count: number;
}

export class PromParseError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'PromParseError';
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES: readonly string[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

function parseValue(text: string, line: number): number {
  switch (text.toLowerCase()) {
    case '+inf':
    case 'inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    case 'nan':
      return NaN;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new PromParseError(line, `not a number: ${JSON.stringify(text)}`);
  return Number(text);
}

function unescapeLabel(raw: string, line: number): string {
  return raw.replace(/\\(.)/g, (_, c: string) => {
    if (c === 'n') return '\n';
    if (c === '\\' || c === '"') return c;
    throw new PromParseError(line, `invalid escape \\${c} in a label value`);
  });
}

function parseSample(text: string, line: number): PromSample {
  const m = METRIC_NAME.exec(text);
  if (!m) throw new PromParseError(line, `expected a metric name: ${JSON.stringify(text)}`);
  const name = m[0];
  let rest = text.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    for (;;) {
      rest = rest.trimStart();
      if (rest.startsWith('}')) {
        rest = rest.slice(1);
        break;
      }
      const ln = LABEL_NAME.exec(rest);
      if (!ln) throw new PromParseError(line, `expected a label name in ${JSON.stringify(text)}`);
      rest = rest.slice(ln[0].length).trimStart();
      if (!rest.startsWith('="')) throw new PromParseError(line, `expected ="..." after label ${ln[0]}`);
      rest = rest.slice(2);
      const end = /^((?:[^"\\\n]|\\.)*)"/.exec(rest);
      if (!end) throw new PromParseError(line, `unterminated value of label ${ln[0]}`);
      if (ln[0] in labels) throw new PromParseError(line, `label ${ln[0]} given twice`);
      labels[ln[0]] = unescapeLabel(end[1]!, line);
      rest = rest.slice(end[0].length).trimStart();
      if (rest.startsWith(',')) rest = rest.slice(1);
      else if (!rest.startsWith('}')) throw new PromParseError(line, `expected , or } after label ${ln[0]}`);
    }
  }
  const parts = rest.trim().split(/\s+/);
  if (!/^\s/.test(rest) || parts.length < 1 || parts.length > 2 || parts[0] === '') {
    throw new PromParseError(line, `expected "<value> [timestamp]" after ${name}`);
  }
  if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) throw new PromParseError(line, `bad timestamp ${JSON.stringify(parts[1])}`);
  return { name, labels, value: parseValue(parts[0]!, line) };
}

/** The family a sample belongs to: `x_bucket`/`x_sum`/`x_count` of a declared histogram `x`, etc. */
function familyOf(sampleName: string, declared: Map<string, PromFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const base = sampleName.slice(0, -suffix.length);
      const f = declared.get(base);
      if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return base;
    }
  }
  return sampleName;
}

function seriesKey(s: PromSample): string {
  return `${s.name}{${Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
    .join(',')}}`;
}

/** Parses and checks a whole exposition; throws {@link PromParseError} on the first problem. */
export function parsePrometheusText(text: string): PromFamily[] {
  const families = new Map<string, PromFamily>();
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else if (text.length > 0) throw new PromParseError(lines.length, 'the exposition must end with a newline');
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(raw);
      if (!m) return; // an ordinary comment
      const [, kind, name, arg = ''] = m;
      if (!METRIC_NAME.test(name!) || METRIC_NAME.exec(name!)![0] !== name) throw new PromParseError(line, `bad metric name ${JSON.stringify(name)}`);
      let f = families.get(name!);
      if (kind === 'TYPE') {
        if (!TYPES.includes(arg.trim())) throw new PromParseError(line, `unknown type ${JSON.stringify(arg)}`);
        if (f && (f.samples.length > 0 || f.type !== 'untyped')) throw new PromParseError(line, `# TYPE of ${name} after its samples or twice`);
        if (!f) families.set(name!, (f = { name: name!, type: 'untyped', help: '', samples: [] }));
        f.type = arg.trim() as PromType;
      } else {
        if (!f) families.set(name!, (f = { name: name!, type: 'untyped', help: '', samples: [] }));
        f.help = arg.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      }
      return;
    }
    const s = parseSample(raw, line);
    const fname = familyOf(s.name, families);
    let f = families.get(fname);
    if (!f) families.set(fname, (f = { name: fname, type: 'untyped', help: '', samples: [] }));
    const key = seriesKey(s);
    if (seen.has(key)) throw new PromParseError(line, `series ${key} given twice`);
    seen.add(key);
    f.samples.push(s);
  });
  const out = [...families.values()];
  for (const f of out) if (f.type === 'histogram') histogramSeries(f); // validates
  return out;
}

/** The series of a histogram family, each checked: le ascending, counts cumulative, +Inf = _count. */
export function histogramSeries(f: PromFamily): HistogramSeries[] {
  if (f.type !== 'histogram') throw new TypeError(`${f.name}: not a histogram (${f.type})`);
  const byKey = new Map<string, HistogramSeries>();
  const keyOf = (labels: Record<string, string>): string =>
    Object.keys(labels)
      .filter((k) => k !== 'le')
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(',');
  const get = (labels: Record<string, string>): HistogramSeries => {
    const k = keyOf(labels);
    let s = byKey.get(k);
    if (!s) {
      const own = { ...labels };
      delete own.le;
      byKey.set(k, (s = { labels: own, buckets: [], sum: NaN, count: NaN }));
    }
    return s;
  };
  for (const s of f.samples) {
    const series = get(s.labels);
    if (s.name === `${f.name}_bucket`) {
      const le = s.labels.le;
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      series.buckets.push([parseValue(le, 0), s.value]);
    } else if (s.name === `${f.name}_sum`) series.sum = s.value;
    else if (s.name === `${f.name}_count`) series.count = s.value;
    else throw new Error(`${f.name}: unexpected sample ${s.name}`);
  }
  for (const [k, s] of byKey) {
    const where = `${f.name}{${k}}`;
    if (s.buckets.length === 0) throw new Error(`${where}: no buckets`);
    for (let i = 1; i < s.buckets.length; i++) {
      if (!(s.buckets[i]![0] > s.buckets[i - 1]![0])) throw new Error(`${where}: le not ascending at ${s.buckets[i]![0]}`);
      if (s.buckets[i]![1] < s.buckets[i - 1]![1]) throw new Error(`${where}: bucket counts not cumulative at le=${s.buckets[i]![0]}`);
    }
    const last = s.buckets[s.buckets.length - 1]!;
    if (last[0] !== Infinity) throw new Error(`${where}: no le="+Inf" bucket`);
    if (Number.isNaN(s.count) || Number.isNaN(s.sum)) throw new Error(`${where}: _sum or _count missing`);
    if (last[1] !== s.count) throw new Error(`${where}: +Inf bucket ${last[1]} != _count ${s.count}`);
  }
  return [...byKey.values()];
}

/**
 * Quantile from cumulative buckets, the way PromQL's histogram_quantile does it: linear
 * interpolation inside the bucket that holds the rank (lower bound 0 for the first bucket).
 */
export function bucketQuantile(q: number, buckets: ReadonlyArray<[number, number]>): number {
  const total = buckets[buckets.length - 1]?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of buckets) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(c - prevCount, 1e-12);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}
