/** One scrape of a Prometheus text endpoint: the metric families it declares and its samples. */
export interface Scrape {
  /** `# TYPE` of every family, by name (histograms by their base name). */
  types: Map<string, string>;
  /** The value of a sample (exact name, e.g. `…_total` or `…_count`) whose labels include `labels`; 0 when none. */
  value(name: string, labels?: Record<string, string>): number;
  /** Whether `name` is a family or a sample name of one (`x_bucket` of histogram `x`). */
  exports(name: string): boolean;
}

/** GETs `url` (a role's `/metrics`) and parses the text format. */
export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return parseExposition(await res.text());
}

export function parseExposition(text: string): Scrape {
  const types = new Map<string, string>();
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const suffixes = ['_bucket', '_sum', '_count'];
  return {
    types,
    value: (name, want = {}) => samples
      .filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0),
    exports: (name) => types.has(name) || suffixes.some((s) => name.endsWith(s) && types.get(name.slice(0, -s.length)) === 'histogram'),
  };
}
