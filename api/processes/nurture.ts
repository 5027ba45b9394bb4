/** The API's side of the nurture sequences that other areas need: closing a lead stops its sequence. */
import type { Client } from '@temporalio/client';
import type { Logger } from '../../config/logger';
import { nurtureWorkflowId, stopNurtureSignal, type NurtureStopReason } from '../../workflows/leadNurture.contract';
import { workflowCalls } from '../workflowCalls';

/** Qualifying or disqualifying a lead stops its sequence; the workflow also sees the closed lead at its next step. */
export async function stopNurtureForClosedLead(temporal: Client, log: Logger, leadId: string, reason: NurtureStopReason, by: string): Promise<void> {
  try {
    await workflowCalls(temporal).signal(nurtureWorkflowId(leadId), stopNurtureSignal, { reason, by });
  } catch (error) {
    log.warn({ err: error, leadId }, 'could not signal the nurture sequence; it will stop at its next step');
  }
}
