/**
 * Every call the API makes to Temporal goes through here, so that three things are decided once:
 * - the deadline: an Update that has not answered within UPDATE_DEADLINE_MS is answered 503
 *   `still_processing` with a `Location` (`/operations/{id}`) where its outcome can be fetched
 *   later; a client is never left guessing whether its request took effect (Temporal keeps an
 *   Update's outcome, keyed by its id, for as long as the workflow's history);
 * - the meaning of the Temporal client's errors, by their gRPC status code, never by their text:
 *   the process is away (503), it does not exist (404), it has ended (the caller's 409), or we sent
 *   something wrong (500);
 * - the ids: an Update's id is derived from the request (the caller's Idempotency-Key, or the
 *   request id), so a retried request is the same Update and Temporal answers it once.
 */
import {
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcServiceError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
  type WorkflowStartOptions,
} from '@temporalio/client';
import type { QueryDefinition, SignalDefinition, UpdateDefinition, Workflow } from '@temporalio/common';
import type { Rejection } from '../domain/rejection';
import { HttpError, ServiceUnavailableError, toProblem } from './errors';

/** How long a request waits for a workflow to answer an Update before answering 503 `still_processing`. */
export const UPDATE_DEADLINE_MS = 10_000;
/** How long a request waits for a query (the worker answers it) or a plain call to the server. */
export const CALL_DEADLINE_MS = 5_000;
/** How long `GET /operations/{id}` waits for an outcome before saying it is still pending. */
export const OPERATION_POLL_MS = 2_000;
/** When a client should ask again about something still in progress. */
export const RETRY_AFTER_SECONDS = 2;

/** 503 `still_processing`: accepted or in flight, outcome not known yet; `Location` says where to ask. */
export class StillProcessingError extends HttpError {
  constructor(readonly operationId: string) {
    const location = `/operations/${operationId}`;
    super(503, 'still_processing', 'the change is still being processed: its outcome is not known yet. GET the Location for it (or retry the same request with the same Idempotency-Key); do not send it again without one', {
      operationId, location,
    }, { Location: location, 'Retry-After': String(RETRY_AFTER_SECONDS) });
  }
}

/** gRPC status codes (stable numbers of the gRPC protocol) that change our answer. */
const GrpcStatus = {
  CANCELLED: 1, UNKNOWN: 2, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, INTERNAL: 13, UNAVAILABLE: 14,
} as const;

/** The gRPC status code behind a Temporal client error, if any. */
export function grpcCode(error: unknown): number | null {
  for (let e = error; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (isGrpcServiceError(e)) return e.code;
  }
  return null;
}

/**
 * A Temporal server error as the API's own: by its gRPC code. Temporal is away or overloaded → 503;
 * a request it found wrong means our request was wrong → 500 (logged); not found and already
 * exists are left to the caller, which knows what they mean for its record.
 */
export function temporalError(error: unknown): unknown {
  if (!(error instanceof ServiceError)) return error;
  switch (grpcCode(error)) {
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.DEADLINE_EXCEEDED:
    case GrpcStatus.CANCELLED:
    case GrpcStatus.RESOURCE_EXHAUSTED:
    case GrpcStatus.ABORTED:
    case GrpcStatus.UNKNOWN:
    case GrpcStatus.INTERNAL:
    case null:
      return new ServiceUnavailableError('temporal_unavailable', 'the workflow service is not reachable or busy; retry shortly with the same Idempotency-Key, which never acts twice', { 'Retry-After': String(RETRY_AFTER_SECONDS) });
    case GrpcStatus.FAILED_PRECONDITION:
      return new HttpError(409, 'process_conflict', 'the process cannot take this request in its current state');
    default:
      return Object.assign(new HttpError(500, 'internal_error', 'an unexpected error occurred; it has been logged'), { cause: error });
  }
}

// ---------------------------------------------------------------------------------------------
// Operations: the handle a client gets for an Update whose outcome it has not seen.

interface OperationRef {
  workflowId: string;
  updateId: string;
  /** Where the record the Update changes can be read. */
  resource: string;
}

export function operationId(ref: OperationRef): string {
  return Buffer.from(JSON.stringify([ref.workflowId, ref.updateId, ref.resource])).toString('base64url');
}

export function parseOperationId(id: string): OperationRef | null {
  try {
    const [workflowId, updateId, resource] = JSON.parse(Buffer.from(id, 'base64url').toString('utf8')) as unknown[];
    if ([workflowId, updateId, resource].every((v) => typeof v === 'string' && v.length > 0 && v.length <= 1000)) {
      return { workflowId, updateId, resource } as OperationRef;
    }
  } catch {
    // not one of ours
  }
  return null;
}

export type OperationOutcome =
  | { status: 'pending' }
  | { status: 'succeeded'; result: unknown }
  | { status: 'failed'; problem: Record<string, unknown> }
  | { status: 'not_applied' };

export interface UpdateOptions<R, T> {
  /** The record the Update changes, for the operation's `resource`. */
  resource: string;
  /**
   * Builds the request's answer from the Update's result (reading the changed record, say). The
   * change is made by then: if the answer cannot be built (Postgres away), the request is answered
   * 503 `still_processing`, whose operation says `succeeded` — never an error that would read as
   * "nothing happened".
   */
  answer?: (result: R) => Promise<T>;
  /** The caller's answer when the process has ended (its record is closed), judged on the rows. */
  ended: () => Rejection | HttpError | Promise<Rejection | HttpError>;
}

/** `onAnswerFailure` hears why an answer could not be built after its Update succeeded (for the log). */
export function workflowCalls(temporal: Client, onAnswerFailure?: (error: unknown) => void) {
  const withDeadline = <T>(ms: number, call: () => Promise<T>): Promise<T> => temporal.withDeadline(Date.now() + ms, call);

  /** Whether the workflow exists and is still running (`null`: no such workflow). */
  async function running(workflowId: string): Promise<boolean | null> {
    try {
      const description = await withDeadline(CALL_DEADLINE_MS, () => temporal.workflow.getHandle(workflowId).describe());
      return description.status.name === 'RUNNING';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError || grpcCode(error) === GrpcStatus.NOT_FOUND) return null;
      throw temporalError(error);
    }
  }

  /**
   * Sends an Update and waits for its outcome, at most UPDATE_DEADLINE_MS: the result, or the
   * workflow's refusal (WorkflowUpdateFailedError, mapped to 4xx by api/errors.ts), or 503
   * `still_processing` with the operation to ask about.
   */
  async function update<R, A, T = R>(workflowId: string, definition: UpdateDefinition<R, [A]>, arg: A, updateId: string, options: UpdateOptions<R, T>): Promise<T> {
    const handle = temporal.workflow.getHandle(workflowId);
    let result: R;
    try {
      result = await withDeadline(UPDATE_DEADLINE_MS, () => handle.executeUpdate(definition, { args: [arg], updateId }));
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) throw error;
      if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError || grpcCode(error) === GrpcStatus.DEADLINE_EXCEEDED) {
        throw new StillProcessingError(operationId({ workflowId, updateId, resource: options.resource }));
      }
      if (error instanceof WorkflowNotFoundError || grpcCode(error) === GrpcStatus.NOT_FOUND) {
        // Ended (its record closed meanwhile), or never started.
        if ((await running(workflowId)) === null) throw new HttpError(404, 'process_not_found', `no process ${workflowId}`);
        throw await options.ended();
      }
      throw temporalError(error);
    }
    if (!options.answer) return result as unknown as T;
    try {
      return await options.answer(result);
    } catch (error) {
      onAnswerFailure?.(error);
      throw new StillProcessingError(operationId({ workflowId, updateId, resource: options.resource }));
    }
  }

  /** A query, answered by a worker: no worker in time is 503 `worker_unavailable`. */
  async function query<R>(handle: WorkflowHandle, definition: QueryDefinition<R, []>): Promise<R> {
    try {
      return await withDeadline(CALL_DEADLINE_MS, () => handle.query(definition));
    } catch (error) {
      if (grpcCode(error) === GrpcStatus.DEADLINE_EXCEEDED || grpcCode(error) === GrpcStatus.CANCELLED) {
        throw new ServiceUnavailableError('worker_unavailable', 'the process did not answer in time (is a worker running?); retry shortly', { 'Retry-After': String(RETRY_AFTER_SECONDS) });
      }
      throw temporalError(error);
    }
  }

  /** Starts a workflow; an id already taken is WorkflowExecutionAlreadyStartedError for the caller. */
  async function start<W extends Workflow>(workflowType: string, options: WorkflowStartOptions<W>): Promise<WorkflowHandleWithFirstExecutionRunId<W>> {
    try {
      return await withDeadline(CALL_DEADLINE_MS, () => temporal.workflow.start<W>(workflowType, options));
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) throw error;
      throw temporalError(error);
    }
  }

  /** Describes a workflow; `null` when there is none. */
  async function describe(workflowId: string) {
    try {
      return await withDeadline(CALL_DEADLINE_MS, () => temporal.workflow.getHandle(workflowId).describe());
    } catch (error) {
      if (error instanceof WorkflowNotFoundError || grpcCode(error) === GrpcStatus.NOT_FOUND) return null;
      throw temporalError(error);
    }
  }

  /**
   * What became of an Update: still pending, succeeded (with its result), failed (the problem the
   * request would have got), or never applied (Temporal does not know it: it was lost before the
   * workflow accepted it, so sending it again is safe). A workflow that continued as new is
   * followed through its earlier runs.
   */
  async function outcome(ref: OperationRef): Promise<OperationOutcome> {
    const runs: Array<string | undefined> = [undefined];
    try {
      for await (const execution of temporal.workflow.list({ query: `WorkflowId = '${ref.workflowId.replace(/'/g, '')}'`, pageSize: 10 })) {
        runs.push(execution.runId);
        if (runs.length > 10) break;
      }
    } catch {
      // Visibility may lag or be away: the latest run is asked anyway.
    }
    for (const runId of runs) {
      const handle = temporal.workflow.getHandle(ref.workflowId, runId).getUpdateHandle(ref.updateId, runId ? { workflowRunId: runId } : undefined);
      try {
        return { status: 'succeeded', result: await withDeadline(OPERATION_POLL_MS, () => handle.result()) };
      } catch (error) {
        if (error instanceof WorkflowUpdateFailedError) {
          const { type: _type, title: _title, ...problem } = toProblem(error);
          return { status: 'failed', problem };
        }
        if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError || grpcCode(error) === GrpcStatus.DEADLINE_EXCEEDED) return { status: 'pending' };
        if (error instanceof WorkflowNotFoundError || grpcCode(error) === GrpcStatus.NOT_FOUND) continue;
        throw temporalError(error);
      }
    }
    return { status: 'not_applied' };
  }

  /** A signal; a workflow that is not running is `false` (nothing to tell), not an error. */
  async function signal<A extends unknown[]>(workflowId: string, definition: SignalDefinition<A>, ...args: A): Promise<boolean> {
    try {
      await withDeadline(CALL_DEADLINE_MS, () => temporal.workflow.getHandle(workflowId).signal(definition, ...args));
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError || grpcCode(error) === GrpcStatus.NOT_FOUND) return false;
      throw temporalError(error);
    }
  }

  return { update, query, start, describe, running, outcome, signal };
}

export type WorkflowCalls = ReturnType<typeof workflowCalls>;
