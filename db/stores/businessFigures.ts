/**
 * The figures ops alert on, read from the records in a handful of aggregate queries (no row is
 * returned, only counts and sums, so nothing personal leaves this module). Each query uses an
 * index the tables already have: deals (stage, status), invoices (status, due_on), nurture_steps
 * grouped by run.
 */
import type { Knex } from 'knex';
import { DEAL_STAGES, type DealStage } from '../../domain/deal';
import { NURTURE_STEPS, type NurtureStepName } from '../../domain/nurture';

/** SPEC: a deal that waits in Tech Check longer than this needs someone's attention. */
export const TECH_CHECK_WAIT_ALERT_MS = 2 * 86_400_000;

export interface BusinessFigures {
  /** Nurture sequences still running, by the step they wait for (or work on). */
  nurtureRunningByStep: Record<NurtureStepName, number>;
  /** Open deals by stage: how many and their value. */
  openDealsByStage: Record<DealStage, { count: number; valueCents: number }>;
  /** Open deals that entered Tech Check more than two days ago. */
  techCheckWaitingOverTwoDays: number;
  /** Invoices past their due date and not fully paid: how many, and what is still owed. */
  overdueInvoices: { count: number; outstandingCents: number };
  /** When the last unification pass finished, by how it ended (null: none ever did). */
  lastUnificationPassAt: { completed: Date | null; failed: Date | null };
}

function finishedAt(rows: Array<{ status: string; at: Date | null }>, status: string): Date | null {
  const at = rows.find((row) => row.status === status)?.at;
  return at ? new Date(at) : null;
}

export class BusinessFiguresStore {
  constructor(private readonly db: Knex) {}

  async read(now: Date = new Date()): Promise<BusinessFigures> {
    const [nurture, deals, waiting, overdue, unification] = await Promise.all([
      this.nurtureRunningByStep(),
      this.db('deals').where({ status: 'open' }).groupBy('stage')
        .select('stage').count<{ stage: DealStage; count: number }[]>({ count: '*' }).sum({ value: 'value_cents' }),
      this.db('deals').where({ status: 'open', stage: 'tech_check' })
        .where('stage_entered_at', '<', new Date(now.getTime() - TECH_CHECK_WAIT_ALERT_MS)).count<{ count: number }[]>({ count: '*' }),
      this.db('invoices').whereIn('status', ['open', 'partially_paid']).where('due_on', '<', now.toISOString().slice(0, 10))
        .count<{ count: number; owed: number | null }[]>({ count: '*' }).select(this.db.raw('sum(total_cents - paid_cents) as owed')),
      this.db('customer_unification_passes').whereIn('status', ['completed', 'failed']).groupBy('status')
        .select('status').max<{ status: 'completed' | 'failed'; at: Date | null }[]>({ at: 'finished_at' }),
    ]);
    const openDealsByStage = Object.fromEntries(DEAL_STAGES.map((stage) => [stage, { count: 0, valueCents: 0 }])) as BusinessFigures['openDealsByStage'];
    for (const row of deals as unknown as Array<{ stage: DealStage; count: number; value: number | null }>) {
      if (row.stage in openDealsByStage) openDealsByStage[row.stage] = { count: Number(row.count), valueCents: Number(row.value ?? 0) };
    }
    return {
      nurtureRunningByStep: nurture,
      openDealsByStage,
      techCheckWaitingOverTwoDays: Number(waiting[0]?.count ?? 0),
      overdueInvoices: { count: Number(overdue[0]?.count ?? 0), outstandingCents: Number(overdue[0]?.owed ?? 0) },
      lastUnificationPassAt: {
        completed: finishedAt(unification, 'completed'),
        failed: finishedAt(unification, 'failed'),
      },
    };
  }

  /**
   * A sequence writes one row per step as it goes, and records every remaining step (as skipped)
   * when it ends early, so a run with fewer rows than steps is still running, waiting for the step
   * after its last one. (A run that ops terminated in the Temporal UI would stay counted here.)
   */
  private async nurtureRunningByStep(): Promise<Record<NurtureStepName, number>> {
    const runs = this.db('nurture_steps').groupBy('run_id').havingRaw('count(*) < ?', [NURTURE_STEPS.length])
      .select(this.db.raw('max(step_index) as last'));
    const rows = await this.db.from(runs.as('runs')).groupBy('last').select('last').count<{ last: number; count: number }[]>({ count: '*' });
    const byStep = Object.fromEntries(NURTURE_STEPS.map((step) => [step, 0])) as Record<NurtureStepName, number>;
    for (const { last, count } of rows) {
      const step = NURTURE_STEPS[Number(last) + 1];
      if (step) byStep[step] = Number(count);
    }
    return byStep;
  }
}
