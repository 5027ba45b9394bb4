/** `npm run build:console`: builds the rep's console into console/dist (scripts/lib/console.ts). `--force` rebuilds a current one. */
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { ConsoleBuildError, ensureConsoleBuilt } from './lib/console';

const log = createLogger(loadConfig().logLevel).child({ component: 'console' });
ensureConsoleBuilt(log, { force: process.argv.includes('--force') }).then(() => process.exit(0), (error: unknown) => {
  console.error(error instanceof ConsoleBuildError ? `\n${error.message}` : error);
  process.exit(1);
});
