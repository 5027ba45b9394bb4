/**
 * `docker compose config` for machines without the compose plugin: scripts/compose-config
 * (compose-spec/compose-go, the library docker compose itself loads files with), built into
 * .tools/bin.
 */
import { spawnSync } from 'node:child_process';
import type { Logger } from '../../config/logger';
import { ensureGoTool, goToolPath } from './goTools';

const TOOL = 'compose-config';

export function dockerComposeAvailable(): boolean {
  return spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0;
}

export function composeCheckerPath(toolsDir: string): string {
  return goToolPath(toolsDir, TOOL);
}

export async function ensureComposeChecker(toolsDir: string, log: Logger): Promise<string | null> {
  if (dockerComposeAvailable()) return null;
  return ensureGoTool(TOOL, toolsDir, log);
}
