/** Routes the Temporal SDK's own log lines (worker and core) into our logger, once per process. */
import { DefaultLogger, Runtime, type LogLevel as TemporalLevel } from '@temporalio/worker';
import type { Logger } from '../config/logger';

let installed = false;

export function installTemporalLogging(log: Logger, level: TemporalLevel = 'INFO'): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new DefaultLogger(level, ({ level: l, message, meta }) => {
      const method = l === 'ERROR' ? 'error' : l === 'WARN' ? 'warn' : l === 'INFO' ? 'info' : 'debug';
      log[method](meta ?? {}, message);
    }),
  });
}
