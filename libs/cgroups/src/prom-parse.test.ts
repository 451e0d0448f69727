// The strict exposition-format parser the metrics tests rely on must itself
// reject what Prometheus rejects, or those tests prove nothing.
import { describe, it, expect } from 'vitest';
import { parsePrometheusText } from './testing/prom-parse';

describe('strict Prometheus text parser (test helper)', () => {
  it('parses HELP, TYPE, labels with escapes and values', () => {
    const f = parsePrometheusText('# HELP a_total Things.\n# TYPE a_total counter\na_total{x="1",y="q\\"\\\\n\\n"} 3.5\na_total{x="2"} 1e3\n');
    const fam = f.get('a_total')!;
    expect(fam.type).toBe('counter');
    expect(fam.samples[0]!.labels['y']).toBe('q"\\n\n');
    expect(fam.samples[1]!.value).toBe(1000);
  });
  it.each([
    ['bad value', 'a 1x\n'],
    ['bad label name', 'a{0x="1"} 1\n'],
    ['unquoted label', 'a{x=1} 1\n'],
    ['duplicate series', 'a{x="1"} 1\na{x="1"} 2\n'],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n'],
    ['split family', 'a 1\nb 1\na{x="1"} 1\n'],
    ['no trailing newline', 'a 1'],
    ['bad escape', 'a{x="\\t"} 1\n'],
  ])('rejects %s', (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});
