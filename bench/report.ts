/**
 * Writes one benchmark's section of BENCHMARKS.md between its markers, leaving the other sections
 * alone, so each benchmark can be re-run on its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config';

const FILE = path.join(PROJECT_ROOT, 'BENCHMARKS.md');
const HEADER = '# Benchmarks\n\nWhole runs, each against a baseline measured in the same run. Re-run a section with its command; the section is rewritten in place.\n';

/** The text of a section (markers included), for a section that holds another one. */
export function benchmarkSection(id: string, title: string, command: string, lines: string[], level = 2): string {
  return [`<!-- bench:${id}:start -->`, `${'#'.repeat(level)} ${title}`, '', `Command: \`${command}\` — measured ${new Date().toISOString().slice(0, 10)}.`, '', ...lines, `<!-- bench:${id}:end -->`].join('\n');
}

/** The current text of a section (markers included), or null. */
export function readBenchmarkSection(id: string): string | null {
  const text = fs.existsSync(FILE) ? fs.readFileSync(FILE, 'utf8') : '';
  const start = `<!-- bench:${id}:start -->`;
  const end = `<!-- bench:${id}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  return from >= 0 && to > from ? text.slice(from, to + end.length) : null;
}

/**
 * `inside`: the section sits within another one (a sub-heading of it); when it is not there yet,
 * it goes at the end of that section.
 */
export function writeBenchmarkSection(id: string, title: string, command: string, lines: string[], options: { level?: number; inside?: string } = {}): void {
  const start = `<!-- bench:${id}:start -->`;
  const end = `<!-- bench:${id}:end -->`;
  const body = benchmarkSection(id, title, command, lines, options.level);
  let text = fs.existsSync(FILE) ? fs.readFileSync(FILE, 'utf8') : HEADER;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  const parentEnd = options.inside ? text.indexOf(`<!-- bench:${options.inside}:end -->`) : -1;
  if (from >= 0 && to > from) text = text.slice(0, from) + body + text.slice(to + end.length);
  else if (parentEnd >= 0) text = `${text.slice(0, parentEnd)}\n${body}\n${text.slice(parentEnd)}`;
  else text = `${text.trimEnd()}\n\n${body}\n`;
  fs.writeFileSync(FILE, text);
}
