/**
 * `docker compose config` for machines without the compose plugin: builds scripts/compose-config
 * (compose-spec/compose-go, the library docker compose itself loads files with) into .tools/bin.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config';
import type { Logger } from '../../config/logger';

const SOURCE_DIR = path.join(PROJECT_ROOT, 'scripts', 'compose-config');

export function dockerComposeAvailable(): boolean {
  return spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0;
}

export function composeCheckerPath(toolsDir: string): string {
  return path.join(toolsDir, 'bin', 'compose-config');
}

export async function ensureComposeChecker(toolsDir: string, log: Logger): Promise<string | null> {
  if (dockerComposeAvailable()) return null;
  const binary = composeCheckerPath(toolsDir);
  const stamp = path.join(toolsDir, 'compose-config.stamp');
  const sourceStamp = fs.readFileSync(path.join(SOURCE_DIR, 'go.sum'), 'utf8').length + ':' +
    fs.statSync(path.join(SOURCE_DIR, 'main.go')).size;
  if (fs.existsSync(binary) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === sourceStamp) return binary;
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) {
    log.warn('neither `docker compose` nor Go is installed: the compose file check will be skipped');
    return null;
  }
  log.info('building the compose file checker (compose-go) once');
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  execFileSync('go', ['build', '-o', binary, '.'], { cwd: SOURCE_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
  fs.writeFileSync(stamp, sourceStamp);
  return binary;
}
