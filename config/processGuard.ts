/**
 * A long-running process of the service (the API, the worker, the dev stack's supervisor) must not
 * end because some callback threw or some promise was rejected without a handler: one bad request or
 * one broken stream would take every other request and workflow task with it. The guard logs such
 * an error and lets the owner of the work it belongs to answer for it (the API answers that request
 * with a 500); the process carries on. Only deliberate exits end it.
 */
import type { Logger } from './logger';

export type StrayErrorHandler = (error: unknown) => void;

const installed = new Set<string>();

export function guardProcess(log: Logger, component: string, onStray: StrayErrorHandler = () => undefined): void {
  if (installed.has(component)) return;
  installed.add(component);
  const handle = (what: string) => (error: unknown) => {
    log.error({ err: error }, `${what}: logged, the ${component} carries on`);
    try {
      onStray(error);
    } catch (answerError) {
      log.error({ err: answerError }, 'could not answer for a stray error');
    }
  };
  process.on('uncaughtException', handle('uncaught exception'));
  process.on('unhandledRejection', handle('unhandled rejection'));
}
