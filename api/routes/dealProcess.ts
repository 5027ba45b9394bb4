/**
 * The API's side of the deal workflow: starting it for a new deal, and sending it an Update with a
 * deadline (no worker answering in time → 503 `worker_unavailable`; retrying with the same
 * Idempotency-Key is safe because the update id is derived from it). A refused Update surfaces as
 * WorkflowUpdateFailedError, which api/errors.ts maps to 409 with the rule's code.
 */
import { ServiceError, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { Logger } from '../../config/logger';
import type { DealConfig } from '../../config';
import type { Deal } from '../../db/stores/deals';
import type { DealStore } from '../../db/stores/deals';
import type { dealLifecycleWorkflow } from '../../workflows/dealLifecycle';
import { DEFAULT_TECH_CHECK_REMINDERS, dealWorkflowId, type DealUpdateResult, type DealWorkflowInput } from '../../workflows/dealLifecycle.contract';
import { techCheckGate } from '../../workflows/dealLifecycle.rules';
import { DealIdKey, DealStageKey, DealValueKey, OwnerIdKey, TechCheckRequiredKey, WaitingSinceKey } from '../../workflows/searchAttributes';
import { ConflictError } from '../../db/errors';
import { ServiceUnavailableError } from '../errors';

/** How long an API call waits for the deal workflow to answer before reporting 503. */
const UPDATE_DEADLINE_MS = 10_000;

export interface DealProcessDeps {
  temporal: Client;
  taskQueue: string;
  log: Logger;
  deals?: DealConfig;
}

export function dealProcess({ temporal, taskQueue, deals: config }: DealProcessDeps) {
  const reminderSchedule = config
    ? { techConsultantsAfterMs: config.techCheckConsultantReminderMs, managerAfterMs: config.techCheckManagerReminderMs }
    : DEFAULT_TECH_CHECK_REMINDERS;

  /**
   * Starts `deal-<id>` unless it exists: a repeated qualification starts nothing new, and one whose
   * first start failed (Temporal down) starts it now. A finished run is never started again.
   */
  async function start(deal: Deal, store: DealStore): Promise<void> {
    const facts = await store.facts(deal.id);
    const input: DealWorkflowInput = { dealId: deal.id, facts, stageEnteredAt: deal.stageEnteredAt, reminderSchedule };
    try {
      await temporal.workflow.start<typeof dealLifecycleWorkflow>('dealLifecycleWorkflow', {
        workflowId: dealWorkflowId(deal.id), taskQueue, args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING', workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `Deal ${deal.name}`,
        typedSearchAttributes: [
          { key: DealIdKey, value: deal.id },
          { key: DealStageKey, value: deal.stage },
          { key: DealValueKey, value: deal.valueCents / 100 },
          { key: OwnerIdKey, value: deal.ownerId },
          { key: TechCheckRequiredKey, value: techCheckGate(facts).required },
          { key: WaitingSinceKey, value: new Date(deal.stageEnteredAt) },
        ],
      });
    } catch (error) {
      // The deal's run has finished (closed deal): nothing to start.
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }

  /** Sends an Update and waits for its answer, at most UPDATE_DEADLINE_MS. */
  async function update<A>(dealId: string, definition: UpdateDefinition<DealUpdateResult, [A]>, arg: A, updateId: string): Promise<DealUpdateResult> {
    const handle = temporal.workflow.getHandle<typeof dealLifecycleWorkflow>(dealWorkflowId(dealId));
    try {
      return await temporal.withDeadline(Date.now() + UPDATE_DEADLINE_MS, () => handle.executeUpdate(definition, { args: [arg], updateId }));
    } catch (error) {
      if (error instanceof ServiceError && /deadline/i.test(error.message)) {
        throw new ServiceUnavailableError('worker_unavailable', 'the deal process did not answer in time (is a worker running?); retrying the same request with the same Idempotency-Key is safe');
      }
      // The deal closed between our read and the Update: its process has ended.
      if (error instanceof WorkflowNotFoundError && /completed/i.test(error.message)) {
        throw new ConflictError('deal_closed', `deal ${dealId} is closed: its process has ended`);
      }
      throw error;
    }
  }

  return { start, update };
}

export type DealProcess = ReturnType<typeof dealProcess>;

/** A closed deal's process has ended: refuse at once, as the workflow would have. */
export function assertDealOpen(deal: Deal): void {
  if (deal.status !== 'open') throw new ConflictError('deal_closed', `deal ${deal.id} is already ${deal.status}`, undefined, { dealStatus: deal.status });
}

/** The update id: the caller's Idempotency-Key (or the request id), scoped to the action and the caller. */
export const updateIdFor = (action: string, userId: string, idempotencyKey: string | undefined, requestId: string): string =>
  `${action}:${userId}:${idempotencyKey ?? requestId}`;
