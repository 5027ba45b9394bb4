/**
 * What every activity needs to know about the workflow it runs for: the execution whose id keys
 * its writes, and how a store's refusal becomes the typed failure the workflow reads.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Rejection } from '../../domain/rejection';

/** The workflow execution this activity runs for (its writes are keyed by it). */
export function currentExecution(): { workflowId: string; runId: string } {
  const execution = Context.current().info.workflowExecution;
  if (!execution) throw ApplicationFailure.nonRetryable('this activity runs only inside a workflow', 'no_workflow');
  return execution;
}

export function currentWorkflowId(): string {
  return currentExecution().workflowId;
}

/**
 * Runs `work`; a store's refusal (Rejection) becomes a non-retryable failure typed with its code,
 * whose details are what `details` reads for it (Postgres's view of the record, say) — the shape
 * each workflow expects. Anything else is left to the worker's classification (transient faults
 * retry).
 */
export async function refusalsAsFailures<T>(work: () => Promise<T>, details: (rejection: Rejection) => Promise<unknown[] | undefined>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof Rejection)) throw error;
    throw ApplicationFailure.create({ message: error.message, type: error.code, nonRetryable: true, details: await details(error) });
  }
}

/** What a refusal's failure carries for the API: its details, its kind and the field it blames. */
export function rejectionDetails(rejection: Rejection): Record<string, unknown> {
  return { ...rejection.details, kind: rejection.kind, ...(rejection.field ? { field: rejection.field } : {}) };
}
