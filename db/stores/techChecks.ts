/**
 * Tech Checks (SPEC "Deal stages", 4): who performed it, when it was completed, the outcome and the
 * details — "everything is in order" included — kept with the quote revision it reviewed and shown
 * on the deal's timeline. Also the reminder tasks the deal workflow leaves while a deal waits.
 */
import type { Knex } from 'knex';
import type { TechCheckOutcome, TechCheckReminderKind } from '../../domain/deal';
import { dollars } from '../../domain/money';
import { fromRow } from '../rows';
import { recordAudit } from './audit';
import type { WriteContext } from './context';
import type { Quote } from './quotes';

export interface TechCheck {
  id: string;
  dealId: string;
  quoteId: string;
  quoteRevision: number;
  quoteTotalCents: number;
  outcome: TechCheckOutcome;
  completedAt: string;
  notes: string;
  performedBy: string;
  activityId: string | null;
  createdAt: string;
}

export interface NewTechCheck {
  outcome: TechCheckOutcome;
  completedAt: string;
  notes: string;
}

/** The reminder tasks' idempotency keys start with this, so a recorded check can complete them. */
export const reminderKeyPrefix = (dealId: string): string => `deal-${dealId}/tech-check-reminder/`;

export class TechCheckStore {
  constructor(private readonly db: Knex) {}

  /** The deal's checks, oldest first (for a snapshot read; `forDeal` runs it). */
  forDealQuery(dealId: string, db: Knex = this.db): Knex.QueryBuilder {
    return db('tech_checks').where({ deal_id: dealId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  }

  async forDeal(dealId: string, db: Knex = this.db): Promise<TechCheck[]> {
    const rows = await this.forDealQuery(dealId, db);
    return rows.map((r: Record<string, unknown>) => fromRow<TechCheck>(r));
  }

  /**
   * Records a check of `quote` (its current revision and total), puts it on the deal's timeline as
   * a note by the consultant, and completes the open reminder tasks of the deal.
   */
  async record(trx: Knex.Transaction, quote: Quote, input: NewTechCheck, ctx: WriteContext & { userId: string }): Promise<TechCheck> {
    const verdict = input.outcome === 'passed' ? 'passed' : 'FAILED';
    const [activity] = await trx('activities')
      .insert({
        type: 'note', regarding_type: 'deal', regarding_id: quote.dealId,
        subject: `Tech Check ${verdict}: quote ${quote.quoteNumber} revision ${quote.revision} (${dollars(quote.totalCents)})`,
        body: input.notes, due_at: input.completedAt, owner_id: ctx.userId, status: 'completed', completed_at: input.completedAt,
        outcome: input.outcome, created_by: ctx.userId,
      })
      .returning('id');
    const [row] = await trx('tech_checks')
      .insert({
        deal_id: quote.dealId, quote_id: quote.id, quote_revision: quote.revision, quote_total_cents: quote.totalCents,
        outcome: input.outcome, completed_at: input.completedAt, notes: input.notes, performed_by: ctx.userId, activity_id: activity.id,
      })
      .returning('*');
    const check = fromRow<TechCheck>(row);
    await recordAudit(trx, { ...ctx, action: 'tech_check.recorded', entityType: 'deal', entityId: quote.dealId, after: check });
    await recordAudit(trx, { ...ctx, action: 'activity.created', entityType: 'activity', entityId: activity.id, after: { subject: `Tech Check ${verdict}`, regardingType: 'deal', regardingId: quote.dealId } });

    const reminders = await trx('activities').where({ status: 'open', type: 'task', regarding_type: 'deal', regarding_id: quote.dealId }).whereLike('idempotency_key', `${reminderKeyPrefix(quote.dealId)}%`).select('id');
    for (const { id } of reminders) {
      const before = await trx('activities').where({ id }).first();
      await trx('activities').where({ id, status: 'open' }).update({ status: 'completed', completed_at: trx.fn.now(), outcome: `Tech Check ${input.outcome}`, updated_at: trx.fn.now() });
      const after = await trx('activities').where({ id }).first();
      await recordAudit(trx, { ...ctx, action: 'activity.completed', entityType: 'activity', entityId: id, before: fromRow(before), after: fromRow(after) });
    }
    return check;
  }

  /** Which Tech Check reminder the activity is (the team it was left for), or null for any other activity. */
  async reminderKind(activityId: string): Promise<TechCheckReminderKind | null> {
    const row = await this.db('activities').where({ id: activityId, type: 'task', regarding_type: 'deal' }).first('regarding_id', 'idempotency_key');
    const key: string | null | undefined = row?.idempotency_key;
    if (!key?.startsWith(reminderKeyPrefix(row.regarding_id))) return null;
    const kind = key.slice(key.lastIndexOf('/') + 1);
    return kind === 'tech_consultants' || kind === 'manager' ? kind : null;
  }

  /**
   * The reminder task of one Tech Check visit, written once per (deal, visit, kind): a retried
   * activity finds the row it wrote. `ownerId` null leaves it to the technical consultants' team.
   */
  async createReminder(
    input: { dealId: string; visit: number; kind: TechCheckReminderKind; ownerId: string | null; subject: string; body: string; dueAt: string; workflowId: string },
  ): Promise<{ activityId: string; created: boolean }> {
    return this.db.transaction(async (trx) => {
      const key = `${reminderKeyPrefix(input.dealId)}${input.visit}/${input.kind}`;
      const inserted = await trx('activities')
        .insert({
          type: 'task', regarding_type: 'deal', regarding_id: input.dealId, subject: input.subject, body: input.body, due_at: input.dueAt,
          owner_id: input.ownerId, status: 'open', created_by_workflow: input.workflowId, idempotency_key: key,
        })
        .onConflict('idempotency_key')
        .ignore()
        .returning('id');
      const { id } = await trx('activities').where({ idempotency_key: key }).first('id');
      if (inserted.length === 1) {
        await recordAudit(trx, {
          actor: { type: 'workflow', id: input.workflowId }, action: 'activity.created', entityType: 'activity', entityId: id,
          after: { type: 'task', regardingType: 'deal', regardingId: input.dealId, subject: input.subject, ownerId: input.ownerId },
        });
      }
      return { activityId: id as string, created: inserted.length === 1 };
    });
  }
}
