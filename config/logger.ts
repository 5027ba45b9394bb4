/**
 * One logger for every component. On a terminal the lines are pretty and prefixed with the
 * component ("[api] listening…"); elsewhere they are JSON, one object per line, for log shippers.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from './index';

export type { Logger };

export function createLogger(level: LogLevel, options: { pretty?: boolean } = {}): Logger {
  const usePretty = options.pretty ?? Boolean(process.stdout.isTTY);
  if (!usePretty) return pino({ level, base: undefined });
  return pino(
    { level, base: undefined },
    pretty({
      sync: true,
      colorize: Boolean(process.stdout.isTTY),
      translateTime: 'HH:MM:ss.l',
      ignore: 'component',
      messageFormat: '[{component}] {msg}',
    }),
  );
}
