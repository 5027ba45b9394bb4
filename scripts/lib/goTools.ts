/**
 * Small checkers written in Go against the libraries the real tools load files with (compose-go for
 * docker-compose.yml, Prometheus's own rule parser for the alert rules), built once from
 * scripts/<name>/ into .tools/bin by provisioning, and again when their source changes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config';
import type { Logger } from '../../config/logger';

export function goToolPath(toolsDir: string, name: string): string {
  return path.join(toolsDir, 'bin', name);
}

/** The tool's path once built; null (with a warning) where Go is not installed. */
export function ensureGoTool(name: string, toolsDir: string, log: Logger): string | null {
  const sourceDir = path.join(PROJECT_ROOT, 'scripts', name);
  const binary = goToolPath(toolsDir, name);
  const stamp = path.join(toolsDir, `${name}.stamp`);
  const sourceStamp = fs.readFileSync(path.join(sourceDir, 'go.sum'), 'utf8').length + ':' +
    fs.statSync(path.join(sourceDir, 'main.go')).size;
  if (fs.existsSync(binary) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === sourceStamp) return binary;
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) {
    log.warn({ tool: name }, 'Go is not installed: this checker is not built, and the tests that use it will fail (install Go, as the README says)');
    return null;
  }
  log.info({ tool: name }, 'building a file checker once');
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  execFileSync('go', ['build', '-o', binary, '.'], { cwd: sourceDir, stdio: ['ignore', 'inherit', 'inherit'] });
  fs.writeFileSync(stamp, sourceStamp);
  return binary;
}
