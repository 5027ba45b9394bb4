/**
 * Every activity's failure, classified in one place (the worker installs this as an activity
 * interceptor, so no activity can forget it): a transient fault is rethrown as it is and Temporal
 * retries it with the activity's backoff; a permanent one becomes a non-retryable ApplicationFailure
 * whose type is a stable code, so the workflow waiting on it learns at once and carries on (an
 * Update fails with that code and the API answers 4xx/409; a background step records the failure).
 * An unknown failure is retried a few times, then treated as permanent: no workflow waits for ever
 * on an activity that cannot succeed.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { TemporalFailure } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { Rejection } from '../../domain/rejection';
import { classifyFailure } from '../../db/failures';
import { rejectionDetails } from './execution';

/** Attempts an unknown failure gets (with the activity's backoff) before it counts as permanent. */
export const UNKNOWN_FAILURE_ATTEMPTS = 5;

/** The failure an activity should end with, given what it threw on its `attempt`-th attempt. */
export function activityFailure(error: unknown, attempt: number): unknown {
  // Already decided (a rule's refusal, a cancellation): leave it as it is.
  if (error instanceof TemporalFailure) return error;
  const classified = classifyFailure(error);
  if (classified.retry === 'transient') return error;
  if (classified.retry === 'unknown' && attempt < UNKNOWN_FAILURE_ATTEMPTS) return error;
  // A refusal keeps its own kind (state, content, field, not found): the API answers it as if the
  // store had refused the request directly.
  const details: Record<string, unknown> = error instanceof Rejection ? rejectionDetails(error) : { kind: classified.kind };
  const message = classified.retry === 'unknown' ? `${classified.message} (failed ${attempt} attempts)` : classified.message;
  return ApplicationFailure.create({ message, type: classified.code, nonRetryable: true, details: [details], cause: error instanceof Error ? error : undefined });
}

class ClassifyFailures implements ActivityInboundCallsInterceptor {
  async execute(input: Parameters<NonNullable<ActivityInboundCallsInterceptor['execute']>>[0], next: Parameters<NonNullable<ActivityInboundCallsInterceptor['execute']>>[1]): Promise<unknown> {
    try {
      return await next(input);
    } catch (error) {
      throw activityFailure(error, Context.current().info.attempt);
    }
  }
}

export const classifyActivityFailures: ActivityInterceptorsFactory = () => ({ inbound: new ClassifyFailures() });
