/**
 * Routes the Temporal SDK's own log lines (worker and core) into our logger, once per process, and,
 * given an address, has the SDK export its metrics there in the Prometheus format (worker/metrics.ts).
 */
import { DefaultLogger, Runtime, type LogLevel as TemporalLevel } from '@temporalio/worker';
import type { Logger } from '../config/logger';

let installed = false;

export function installTemporalLogging(log: Logger, level: TemporalLevel = 'INFO', telemetry: { prometheusBindAddress?: string } = {}): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new DefaultLogger(level, ({ level: l, message, meta }) => {
      const method = l === 'ERROR' ? 'error' : l === 'WARN' ? 'warn' : l === 'INFO' ? 'info' : 'debug';
      log[method](meta ?? {}, message);
    }),
    ...(telemetry.prometheusBindAddress ? {
      telemetryOptions: {
        // Prometheus's own conventions: counters end in _total, durations in seconds with the unit in the name.
        metrics: { prometheus: { bindAddress: telemetry.prometheusBindAddress, countersTotalSuffix: true, useSecondsForDurations: true, unitSuffix: true } },
      },
    } : {}),
  });
}
