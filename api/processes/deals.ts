/**
 * The API's side of the deal workflow: starting it for a new deal, and sending it an Update through
 * api/workflowCalls.ts (deadline → 503 `still_processing` with the operation to ask about; the
 * Update's id is the request's operation key, so a retry with the same Idempotency-Key is the same
 * Update). A refused Update surfaces as WorkflowUpdateFailedError, which api/errors.ts maps to 4xx.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import type { DealConfig } from '../../config';
import type { Deal } from '../../db/stores/deals';
import { DealStore } from '../../db/stores/deals';
import type { dealLifecycleWorkflow } from '../../workflows/dealLifecycle';
import { DEFAULT_TECH_CHECK_REMINDERS, dealWorkflowId, type DealUpdateResult, type DealWorkflowInput } from '../../workflows/dealLifecycle.contract';
import { techCheckGate } from '../../domain/deal';
import { DealIdKey, DealStageKey, DealValueKey, OwnerIdKey, TechCheckRequiredKey, WaitingSinceKey } from '../../workflows/searchAttributes';
import { ConflictError } from '../../domain/rejection';
import { workflowCalls } from '../workflowCalls';

export interface DealProcessDeps {
  temporal: Client;
  db: Db;
  taskQueue: string;
  log: Logger;
  deals?: DealConfig;
}

export function dealProcess({ temporal, db, taskQueue, log, deals: config }: DealProcessDeps) {
  const calls = workflowCalls(temporal, (error) => log.warn({ err: error }, 'a deal change was made but its answer could not be built'));
  const deals = new DealStore(db);
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
      await calls.start<typeof dealLifecycleWorkflow>('dealLifecycleWorkflow', {
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

  /**
   * Sends an Update (its id: the request's operation key) and waits for its answer. While the deal's
   * process runs it judges every request (the API does not judge first: one judge, no race); a deal
   * whose process has ended is closed, and the answer says how.
   */
  function update<A, T>(dealId: string, definition: UpdateDefinition<DealUpdateResult, [A]>, arg: A, updateId: string, answer: (result: DealUpdateResult) => Promise<T>): Promise<T> {
    return calls.update(dealWorkflowId(dealId), definition, arg, updateId, {
      resource: `/deals/${dealId}`,
      answer,
      ended: async () => {
        const deal = await deals.require(dealId);
        return new ConflictError('deal_closed', `deal ${dealId} is already ${deal.status}: its process has ended`, undefined, { dealStatus: deal.status });
      },
    });
  }

  return { start, update };
}

export type DealProcess = ReturnType<typeof dealProcess>;
