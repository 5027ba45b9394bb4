/**
 * Temporal for tests: the Java time-skipping server and the CLI dev server, both provisioned into
 * .tools/ by `npm test`, with the project's search attributes registered; one workflow bundle per
 * run; a worker with the real activities on a per-test task queue.
 */
import crypto from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, bundleWorkflowCode, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { loadConfig } from '../../config';
import { createLogger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { createSmtpMailer, type Mailer } from '../../activities/mailer';
import { toolPaths } from '../../scripts/lib/tools';
import { ensureSearchAttributes } from '../../worker/searchAttributes';
import { createSalesWorker, workflowsPath, type SalesWorkerOptions } from '../../worker/worker';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/searchAttributes';
import { testEnv } from './env';

const tools = toolPaths(loadConfig().toolsDir);
export const testLog = createLogger((process.env.TEST_LOG_LEVEL as 'error') ?? 'error', { pretty: true }).child({ component: 'test' });

let runtimeInstalled = false;

/** The SDK's runtime logging errors only (once per process: the runtime cannot be installed twice). */
export function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  runtimeInstalled = true;
}

/**
 * The SDK gives the JVM a fixed 5 s to listen; on a loaded machine it sometimes needs longer, so a
 * start that timed out is tried again (the server itself is not in question).
 */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: tools.testServer } } });
      await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
      return env;
    } catch (error) {
      if (attempt >= 3 || !/did not start within/.test((error as Error).message)) throw error;
    }
  }
}

export async function devServerEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: tools.temporalCli }, searchAttributes: ALL_SEARCH_ATTRIBUTES, ui: false },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | null = null;
/** Bundling takes seconds: do it once per run. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} } });
  return bundle;
}

export const uniqueTaskQueue = (prefix: string): string => `${prefix}-${crypto.randomBytes(4).toString('hex')}`;

export function testMailer(): Mailer {
  return createSmtpMailer({ host: '127.0.0.1', port: testEnv.smtpPort, secure: false, user: null, password: null, from: 'Contoso Test <sales@contoso.example>' });
}

export interface RunningTestWorker {
  worker: Worker;
  stop(): Promise<void>;
}

export async function startTestWorker(
  env: TestWorkflowEnvironment,
  db: Db,
  taskQueue: string,
  options: Partial<Pick<SalesWorkerOptions, 'wrapActivities' | 'mailer' | 'identity'>> = {},
): Promise<RunningTestWorker> {
  const mailer = options.mailer ?? testMailer();
  const worker = await createSalesWorker({
    connection: env.nativeConnection, namespace: env.namespace ?? 'default', taskQueue,
    workflowBundle: await workflowBundle(), db, mailer, log: testLog, customers: loadConfig().customers, ...options,
  });
  const running = worker.run();
  return {
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      mailer.close();
    },
  };
}

/** Polls until `check` passes (for state reached by a worker in the background). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
