/**
 * Builds the one worker that runs every workflow and activity of the service on the task queue.
 * The workflow code is bundled from workflows/index.ts unless a prebuilt bundle is given (tests
 * bundle once and share it).
 */
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { classifyActivityFailures } from '../activities/lib/failures';
import type { ActivityDeps } from './activities';
import { createActivities } from './activities';

export interface SalesWorkerOptions extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  workflowBundle?: WorkflowBundleOption;
  /** Extra wrapping of the activities (tests inject faults around the real ones). */
  wrapActivities?: (activities: ReturnType<typeof createActivities>) => object;
  identity?: string;
  /** 0 turns off the sticky workflow cache (the time-skipping server never hands a dead worker's sticky tasks back). */
  maxCachedWorkflows?: number;
}

export function workflowsPath(): string {
  return require.resolve('../workflows');
}

export async function createSalesWorker(options: SalesWorkerOptions): Promise<Worker> {
  const activities = createActivities(options);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: workflowsPath() }),
    activities: options.wrapActivities ? options.wrapActivities(activities) : activities,
    // Every activity failure is classified in one place: transient retries, permanent fails at once.
    interceptors: { activity: [classifyActivityFailures] },
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
    // Drain in-flight activities on shutdown rather than abandoning them to a timeout.
    shutdownGraceTime: '10 seconds',
  });
}
