/**
 * `npm run bench -- [name…]`: runs the named benchmarks (all when none is named), one process each,
 * one after the other so they do not compete for the two cores.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const BENCHMARKS: Record<string, string> = {
  nurture: 'nurtureEnrollment.ts',
};

const requested = process.argv.slice(2);
const names = requested.length ? requested : Object.keys(BENCHMARKS);
for (const name of names) {
  const file = BENCHMARKS[name];
  if (!file) {
    console.error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n== ${name} ==`);
  const result = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, file)], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
