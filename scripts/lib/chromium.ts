/**
 * Chromium for the console's browser test (test/e2e/console.test.ts drives it with playwright-core).
 * Browser downloads are not possible everywhere this project runs, so the test uses the system's
 * Chromium: Debian's `chromium` package, installed here when missing (as root, with apt-get), or
 * else a clear message saying what to install.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from '../../config/logger';
import { ProvisionError } from './tools';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The flags Chromium needs to run headless in a container (no sandbox, no GPU, nothing phoning home). */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

function runs(executable: string): boolean {
  return fs.existsSync(executable) && spawnSync(executable, ['--version'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

export function ensureChromium(log: Logger): string {
  if (runs(CHROMIUM_PATH)) {
    log.debug({ path: CHROMIUM_PATH }, 'Chromium present');
    return CHROMIUM_PATH;
  }
  const root = process.getuid?.() === 0;
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!root || !apt) {
    throw new ProvisionError(
      `The console's browser test needs Chromium at ${CHROMIUM_PATH}, and ${root ? 'apt-get is not available' : 'installing it needs root'}: ` +
        'install it yourself (Debian/Ubuntu: `sudo apt-get install chromium`).',
    );
  }
  log.info('installing Chromium with apt-get (once; for the console\'s browser test)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'inherit', 'inherit'], env });
  const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: ['ignore', 'inherit', 'inherit'], env }) : update;
  if (install.status !== 0 || !runs(CHROMIUM_PATH)) {
    throw new ProvisionError('apt-get could not install Chromium (the `chromium` package): this machine must reach its Debian package mirror.');
  }
  log.info({ path: CHROMIUM_PATH }, 'Chromium installed');
  return CHROMIUM_PATH;
}
