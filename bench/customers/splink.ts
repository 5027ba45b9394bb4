/**
 * Splink (the open-source Fellegi–Sunter linker, PyPI `splink`) on the same FEBRL files, for the
 * side-by-side figures of `bench:customers:quality`. Installed with pip into a virtual
 * environment under the data folder (pinned version; not a project dependency) and run by
 * bench/customers/splink_febrl.py; without Python, or when the install fails, the bench says so and
 * goes on.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Quality } from '../../domain/customers/quality';

export const SPLINK_VERSION = '5.0.0';

export interface SplinkRun {
  rows: string[];
  notes: string[];
}

interface SplinkResult {
  splink: string;
  febrl3: Quality & { seconds: number };
  febrl4: Quality & { seconds: number };
}

function run(command: string, args: string[], timeoutMs = 900_000): { ok: boolean; output: string; stdout: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) return { ok: false, output: result.error.message, stdout: '' };
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim(), stdout: result.stdout };
}

const lastLine = (text: string) => text.trim().split('\n').slice(-1)[0] ?? '';
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const figures = (q: Quality) => `precision ${q.precision.toFixed(4)}, recall ${q.recall.toFixed(4)}, **F1 ${q.f1.toFixed(4)}** (${fmt(q.keys)} keys, ${fmt(q.truePairs)} true pairs, ${fmt(q.predictedPairs)} predicted, ${fmt(q.correctPairs)} correct)`;

/** The Python of the venv, creating it and installing Splink the first time. */
function splinkPython(cacheDir: string, python: string): { ok: true; python: string } | { ok: false; reason: string } {
  const venv = path.join(cacheDir, `venv-splink-${SPLINK_VERSION}`);
  const bin = path.join(venv, 'bin', 'python');
  if (fs.existsSync(path.join(venv, '.installed'))) return { ok: true, python: bin };
  fs.mkdirSync(cacheDir, { recursive: true });
  const created = run(python, ['-m', 'venv', venv]);
  if (!created.ok) return { ok: false, reason: `no Python venv (${python} -m venv: ${lastLine(created.output) || 'not found'})` };
  const installed = run(bin, ['-m', 'pip', 'install', '--quiet', `splink==${SPLINK_VERSION}`]);
  if (!installed.ok) return { ok: false, reason: `pip could not install splink ${SPLINK_VERSION}: ${lastLine(installed.output)}` };
  fs.writeFileSync(path.join(venv, '.installed'), `splink ${SPLINK_VERSION}\n`);
  return { ok: true, python: bin };
}

/** Splink's figures on FEBRL 3 and FEBRL 4 (no soc_sec_id), as rows of the quality table; or why not. */
export function runSplink(febrlDir: string, cacheDir: string, python = process.env.PYTHON ?? 'python3'): SplinkRun {
  if (process.env.SKIP_SPLINK === '1') return { rows: [], notes: ['Splink skipped: SKIP_SPLINK=1.'] };
  const env = splinkPython(cacheDir, python);
  if (!env.ok) return { rows: [], notes: [`Splink skipped: ${env.reason}.`] };
  const result = run(env.python, [path.join(__dirname, 'splink_febrl.py'), febrlDir]);
  if (!result.ok) return { rows: [], notes: [`Splink skipped: its run failed: ${lastLine(result.output)}.`] };
  let parsed: SplinkResult;
  try {
    parsed = JSON.parse(lastLine(result.stdout)) as SplinkResult;
  } catch {
    return { rows: [], notes: [`Splink skipped: its run printed no result (${lastLine(result.output)}).`] };
  }
  return {
    rows: [
      `| FEBRL 3, **Splink ${parsed.splink}** on the same file and columns, no \`soc_sec_id\`; ${parsed.febrl3.seconds} s | ${figures(parsed.febrl3)} |`,
      `| FEBRL 4 linkage, **Splink ${parsed.splink}**, the same; ${parsed.febrl4.seconds} s | ${figures(parsed.febrl4)} |`,
    ],
    notes: [
      `Splink ${parsed.splink} ran in the same bench run (\`bench/customers/splink_febrl.py\`, installed with pip into a venv under \`.data/splink\`, not a project dependency): its own comparison library over the same columns (names with term frequencies, birth date and postcode by edit distance, addresses by Jaro-Winkler), u by random sampling, m by EM over four blocking rules, λ from its deterministic-rules estimate (recall 0.8, as its examples do), the same prediction blocking, connected components at match probability 0.5; its time includes DuckDB's start.`,
    ],
  };
}
