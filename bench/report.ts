/**
 * Writes one benchmark's section of BENCHMARKS.md between its markers, leaving the other sections
 * alone, so each benchmark can be re-run on its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config';

const FILE = path.join(PROJECT_ROOT, 'BENCHMARKS.md');
const HEADER = '# Benchmarks\n\nWhole runs, each against a baseline measured in the same run. Re-run a section with its command; the section is rewritten in place.\n';

export function writeBenchmarkSection(id: string, title: string, command: string, lines: string[]): void {
  const start = `<!-- bench:${id}:start -->`;
  const end = `<!-- bench:${id}:end -->`;
  const body = [start, `## ${title}`, '', `Command: \`${command}\` — measured ${new Date().toISOString().slice(0, 10)}.`, '', ...lines, end].join('\n');
  let text = fs.existsSync(FILE) ? fs.readFileSync(FILE, 'utf8') : HEADER;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  text = from >= 0 && to > from ? text.slice(0, from) + body + text.slice(to + end.length) : `${text.trimEnd()}\n\n${body}\n`;
  fs.writeFileSync(FILE, text);
}
