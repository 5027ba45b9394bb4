/**
 * Builds the one worker that runs every workflow and activity of the service on the task queue.
 * The workflow code is bundled from workflows/index.ts unless a prebuilt bundle is given (tests
 * bundle once and share it).
 */
import {
  OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, Worker, type ActivityInterceptorsFactory, type WorkflowBundleOption } from '@temporalio/worker';
import type { Tracing } from '../config/tracing';
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
  /**
   * Traces continued into the workflows and activities (config/tracing.ts). A prebuilt bundle must
   * then have been built with TRACING_WORKFLOW_INTERCEPTORS among its interceptor modules.
   */
  tracing?: Pick<Tracing, 'resource' | 'spanProcessor'>;
}

/**
 * The SDK's workflow interceptors that continue a trace inside the workflow sandbox (and start the
 * spans of the activities it schedules); they send their spans out through the `exporter` sink.
 * They add no command, so histories replay the same with or without them.
 */
export const TRACING_WORKFLOW_INTERCEPTORS = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

const traceActivities: ActivityInterceptorsFactory = (ctx) => ({
  inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
  outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
});

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
    // The tracing interceptor comes first, outermost, so the span records the classified failure.
    interceptors: {
      activity: options.tracing ? [traceActivities, classifyActivityFailures] : [classifyActivityFailures],
      ...(options.tracing ? { workflowModules: [TRACING_WORKFLOW_INTERCEPTORS] } : {}),
    },
    ...(options.tracing ? { sinks: { exporter: makeWorkflowExporter(options.tracing.spanProcessor, options.tracing.resource) } } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
    // Drain in-flight activities on shutdown rather than abandoning them to a timeout.
    shutdownGraceTime: '10 seconds',
  });
}
