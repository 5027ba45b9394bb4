/**
 * The nightly unification Schedule (CUSTOMER_UNIFICATION_CRON, default 02:00 UTC): created when
 * missing, brought in line with the configuration when it differs, deleted when the cron is
 * `off`. Idempotent: `npm run customers:schedule` runs it; running it again changes nothing.
 * The Schedule starts `scheduledCustomerUnificationWorkflow`, which hands a request to
 * `customer-unification` (see workflows/customerUnification.ts for why it cannot start it itself).
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import {
  CUSTOMER_UNIFICATION_SCHEDULE_ID,
  SCHEDULED_UNIFICATION_WORKFLOW_ID,
} from '../workflows/customerUnification.contract';

export interface ScheduleSettings {
  cron: string | null;
  timezone: string;
  taskQueue: string;
}

export type ScheduleOutcome = 'created' | 'updated' | 'unchanged' | 'deleted' | 'absent';

const NOTE = 'Nightly customer unification (npm run customers:schedule)';

function createSchedule(temporal: Client, settings: ScheduleSettings & { cron: string }, paused = false) {
  return temporal.schedule.create({
    scheduleId: CUSTOMER_UNIFICATION_SCHEDULE_ID,
    spec: { cronExpressions: [settings.cron], timezone: settings.timezone },
    action: action(settings.taskQueue),
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    state: { note: NOTE, paused },
    // The server keeps a cron expression only in compiled form: the memo keeps what we asked for.
    memo: { cron: settings.cron, timezone: settings.timezone },
  });
}

function action(taskQueue: string) {
  return {
    type: 'startWorkflow' as const,
    workflowType: 'scheduledCustomerUnificationWorkflow',
    workflowId: SCHEDULED_UNIFICATION_WORKFLOW_ID,
    taskQueue,
    args: [],
  };
}

export async function ensureUnificationSchedule(temporal: Client, settings: ScheduleSettings): Promise<ScheduleOutcome> {
  const handle = temporal.schedule.getHandle(CUSTOMER_UNIFICATION_SCHEDULE_ID);
  let current: Awaited<ReturnType<typeof handle.describe>> | null = null;
  try {
    current = await handle.describe();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
  if (!settings.cron) {
    if (!current) return 'absent';
    await handle.delete();
    return 'deleted';
  }
  const wanted = { ...settings, cron: settings.cron };
  if (!current) {
    try {
      await createSchedule(temporal, wanted);
      return 'created';
    } catch (error) {
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
      current = await handle.describe();
    }
  }
  const memo = (current.memo ?? {}) as { cron?: string; timezone?: string };
  const same =
    memo.cron === settings.cron &&
    memo.timezone === settings.timezone &&
    current.action.type === 'startWorkflow' &&
    current.action.workflowType === 'scheduledCustomerUnificationWorkflow' &&
    current.action.taskQueue === settings.taskQueue;
  if (same) return 'unchanged';
  // An update cannot change the memo: replace the Schedule, keeping it paused if someone paused it.
  await handle.delete();
  await createSchedule(temporal, wanted, current.state.paused);
  return 'updated';
}
