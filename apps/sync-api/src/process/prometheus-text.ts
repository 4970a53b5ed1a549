/**
 * Prometheus text exposition (format 0.0.4) with labels every sample carries (`process`, `runner`),
 * so the series of several processes behind one scrape config stay apart. Pure: no I/O.
 */

export type Labels = Record<string, string | number>;
export type MetricType = 'counter' | 'gauge';

/** Escapes a label value: backslash, double quote and newline (per the exposition format). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(String(v))}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/**
 * Collects metric families; `constLabels` are appended to every sample's own labels (its own win
 * on a name clash).
 */
export class PrometheusText {
  private readonly lines: string[] = [];

  constructor(private readonly constLabels: Labels) {}

  metric(name: string, type: MetricType, help: string, samples: ReadonlyArray<readonly [Labels, number]>): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      this.lines.push(`${name}${formatLabels({ ...labels, ...Object.fromEntries(Object.entries(this.constLabels).filter(([k]) => !(k in labels))) })} ${formatValue(value)}`);
    }
  }

  /** The exposition text, ending with a newline. */
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
