/**
 * How callers (the API, `npm run import`, `npm run customers:unify`, tests) hand a request to the
 * `customer-unification` workflow and follow it: signal-with-start (the running unification takes
 * the request for its next pass, or a new run starts with it), then the state query of the run
 * that took it, until the pass serving the request has finished.
 */
import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { customerUnificationWorkflow } from '../workflows/customerUnification';
import {
  CUSTOMER_UNIFICATION_WORKFLOW_ID,
  getUnificationStateQuery,
  requestUnificationSignal,
  type PassView,
  type UnificationRequest,
  type UnificationState,
} from '../workflows/customerUnification.contract';

export interface UnificationTicket {
  workflowId: string;
  runId: string;
  requestId: string;
}

export async function requestUnification(temporal: Client, taskQueue: string, request: Omit<UnificationRequest, 'requestId'> & { requestId?: string }): Promise<UnificationTicket> {
  const full: UnificationRequest = { ...request, requestId: request.requestId ?? crypto.randomUUID() };
  const handle = await temporal.workflow.signalWithStart<typeof customerUnificationWorkflow, [UnificationRequest]>('customerUnificationWorkflow', {
    workflowId: CUSTOMER_UNIFICATION_WORKFLOW_ID,
    taskQueue,
    args: [{ requests: [] }],
    signal: requestUnificationSignal,
    signalArgs: [full],
    staticSummary: 'Customer unification: map, match, cluster, merge',
  });
  return { workflowId: handle.workflowId, runId: handle.signaledRunId, requestId: full.requestId };
}

/** The state of one run, or of the latest run when `runId` is not given. */
export async function unificationState(temporal: Client, ticket: { workflowId: string; runId?: string }): Promise<UnificationState> {
  return temporal.workflow.getHandle(ticket.workflowId, ticket.runId || undefined).query(getUnificationStateQuery);
}

/** The pass serving a request, once known. */
export function passOf(state: UnificationState, requestId: string): PassView | null {
  const request = state.requests[requestId];
  if (!request || request.pass === null) return null;
  return state.passes.find((p) => p.pass === request.pass) ?? null;
}

export interface WaitOptions {
  pollMs?: number;
  timeoutMs?: number;
  onState?: (state: UnificationState, pass: PassView | null) => void;
  /** Called when the state cannot be read (no worker yet, say); waiting goes on. */
  onUnreachable?: (error: unknown) => void;
}

/**
 * Polls until the pass serving the request has completed or failed. A run that ended with the
 * request still waiting continued as new: the request is then followed into the latest run.
 */
export async function waitForUnification(temporal: Client, ticket: UnificationTicket, options: WaitOptions = {}): Promise<PassView> {
  const deadline = Date.now() + (options.timeoutMs ?? 24 * 3600_000);
  let runId: string | undefined = ticket.runId;
  for (;;) {
    try {
      const state = await temporal.withDeadline(Date.now() + 10_000, () => unificationState(temporal, { workflowId: ticket.workflowId, runId }));
      if (state.status === 'completed' && state.requests[ticket.requestId]?.status === 'pending') runId = undefined;
      const pass = passOf(state, ticket.requestId);
      options.onState?.(state, pass);
      if (pass && pass.status !== 'running') return pass;
    } catch (error) {
      options.onUnreachable?.(error);
    }
    if (Date.now() > deadline) throw new Error(`unification request ${ticket.requestId} did not finish in time`);
    await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
  }
}
