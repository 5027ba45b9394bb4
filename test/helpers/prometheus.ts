/**
 * A strict reader of the Prometheus text exposition format (0.0.4): every line must be a comment,
 * a HELP or TYPE line, or a sample `name{label="value",…} value [timestamp]`; anything else fails
 * the test that reads the page.
 */
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricsPage {
  samples: Sample[];
  types: Map<string, string>;
  /** The value of the one sample with this name and (at least) these labels; undefined if none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const VALUE = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[+-]?Inf|NaN|Nan)';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,(?:${LABEL}))*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

function parseValue(raw: string): number {
  if (/^[+]?Inf$/.test(raw)) return Infinity;
  if (raw === '-Inf') return -Infinity;
  if (/^NaN$/i.test(raw)) return NaN;
  return Number(raw);
}

export function parsePrometheusText(text: string): MetricsPage {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  text.split('\n').forEach((line, index) => {
    if (line === '') return;
    const where = `line ${index + 1}: ${JSON.stringify(line)}`;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!meta) return; // a plain comment
      assert.match(meta[2], new RegExp(`^${NAME}$`), `a metric name: ${where}`);
      if (meta[1] === 'TYPE') {
        assert.ok(TYPES.includes(meta[3] ?? ''), `a known type: ${where}`);
        assert.ok(!types.has(meta[2]), `one TYPE line per metric: ${where}`);
        types.set(meta[2], meta[3]);
      }
      return;
    }
    const match = SAMPLE.exec(line);
    assert.ok(match, `a sample line: ${where}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    }
    samples.push({ name: match[1], labels, value: parseValue(match[3]) });
  });
  return {
    samples,
    types,
    value(name, wanted = {}) {
      const found = samples.filter((s) => s.name === name && Object.entries(wanted).every(([k, v]) => s.labels[k] === v));
      assert.ok(found.length <= 1, `one sample of ${name} ${JSON.stringify(wanted)}, found ${found.length}`);
      return found[0]?.value;
    },
  };
}
