import { describe, expect, it } from 'vitest';
import { escapeLabelValue, PrometheusText } from '../../src/process/prometheus-text.ts';

describe('PrometheusText', () => {
  it('appends the process and runner labels to every sample, after its own labels', () => {
    const out = new PrometheusText({ process: 'api-1', runner: 'api' });
    out.metric('syncline_connections', 'gauge', 'Open sync streams', [[{}, 3]]);
    out.metric('syncline_replication_ops_total', 'counter', 'Ops', [
      [{ version: 2 }, 10],
      [{ version: 3 }, 0],
    ]);
    expect(out.text()).toBe(
      [
        '# HELP syncline_connections Open sync streams',
        '# TYPE syncline_connections gauge',
        'syncline_connections{process="api-1",runner="api"} 3',
        '# HELP syncline_replication_ops_total Ops',
        '# TYPE syncline_replication_ops_total counter',
        'syncline_replication_ops_total{version="2",process="api-1",runner="api"} 10',
        'syncline_replication_ops_total{version="3",process="api-1",runner="api"} 0',
        '',
      ].join('\n'),
    );
  });

  it("keeps a sample's own label when it has the same name as a constant label", () => {
    const out = new PrometheusText({ process: 'a', runner: 'unified' });
    out.metric('m', 'gauge', 'h', [[{ runner: 'other' }, 1]]);
    expect(out.text()).toContain('m{runner="other",process="a"} 1');
  });

  it('escapes backslashes, quotes and newlines in label values', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    const out = new PrometheusText({ process: 'x"y' });
    out.metric('m', 'gauge', 'h', [[{}, 1]]);
    expect(out.text()).toContain('m{process="x\\"y"} 1');
  });

  it('writes NaN and infinities as the format spells them', () => {
    const out = new PrometheusText({});
    out.metric('m', 'gauge', 'h', [
      [{ k: 'a' }, Number.NaN],
      [{ k: 'b' }, Infinity],
      [{ k: 'c' }, -Infinity],
    ]);
    expect(out.text().split('\n').slice(2, 5)).toEqual(['m{k="a"} NaN', 'm{k="b"} +Inf', 'm{k="c"} -Inf']);
  });
});
