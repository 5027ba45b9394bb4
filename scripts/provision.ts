/**
 * Installs the project-local tools the stack and the tests need (see scripts/lib/tools.ts).
 * Idempotent: run it as often as you like; `npm test` runs it first.
 */
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { ensureChromium } from './lib/chromium';
import { ensureComposeChecker } from './lib/composeCheck';
import { ensureGoTool } from './lib/goTools';
import { ProvisionError, ensureSchemathesis, ensureTemporalCli, ensureTestServer } from './lib/tools';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel).child({ component: 'provision' });
  await ensureTemporalCli(config.toolsDir, log);
  await ensureTestServer(config.toolsDir, log);
  await ensureComposeChecker(config.toolsDir, log);
  // The alert rules checked as Prometheus loads them (test/deploy/observability.test.ts).
  ensureGoTool('prometheus-rules', config.toolsDir, log);
  await ensureSchemathesis(config.toolsDir, log);
  ensureChromium(log);
  log.info('tools ready');
}

main().catch((error: unknown) => {
  console.error(error instanceof ProvisionError ? `\n${error.message}\n` : error);
  process.exit(1);
});
