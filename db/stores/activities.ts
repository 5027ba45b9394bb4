/**
 * Activities: the timeline of every record (SPEC "Activities and the timeline"). An open activity
 * past its due date is overdue; the timeline lists newest first and filters by type and status.
 * Workflow steps write through `createForStep`, keyed by workflow id + run + step, so a retried
 * activity finds its earlier row instead of writing a second one.
 */
import type { Knex } from 'knex';
import { ConflictError, InvalidFieldError, NotFoundError } from '../errors';
import { fromRow, toRow } from '../rows';
import { recordAudit, type Actor } from './audit';
import type { Page, WriteContext } from './leads';

export const ACTIVITY_TYPES = ['phone_call', 'email', 'task', 'appointment', 'note'] as const;
export const ACTIVITY_STATUSES = ['open', 'completed', 'canceled'] as const;
export type ActivityType = (typeof ACTIVITY_TYPES)[number];
export type ActivityStatus = (typeof ACTIVITY_STATUSES)[number];

/** Record types that have a timeline, and their tables; later areas add theirs here. */
export const REGARDING_TABLES: Record<string, string> = { lead: 'leads', deal: 'deals', quote: 'quotes', account: 'accounts', contact: 'contacts' };
export const REGARDING_TYPES = () => Object.keys(REGARDING_TABLES);

export interface Regarding {
  type: string;
  id: string;
}

export interface Activity {
  id: string;
  type: ActivityType;
  regardingType: string;
  regardingId: string;
  subject: string;
  body: string | null;
  dueAt: string | null;
  ownerId: string | null;
  status: ActivityStatus;
  overdue: boolean;
  completedAt: string | null;
  canceledAt: string | null;
  outcome: string | null;
  toAddress: string | null;
  sentAt: string | null;
  messageId: string | null;
  createdBy: string | null;
  createdByWorkflow: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewActivity {
  type: ActivityType;
  regarding: Regarding;
  subject: string;
  body?: string | null;
  dueAt?: string | null;
  ownerId?: string | null;
  status?: 'open' | 'completed';
  outcome?: string | null;
  toAddress?: string | null;
}

export interface ActivityPatch {
  status?: 'completed' | 'canceled';
  dueAt?: string | null;
  subject?: string;
  body?: string | null;
  outcome?: string | null;
  ownerId?: string | null;
}

export interface TimelineFilter {
  types?: ActivityType[];
  /** `overdue` selects open activities past due. */
  statuses?: Array<ActivityStatus | 'overdue'>;
}

const COLUMNS = [
  'id', 'type', 'regarding_type', 'regarding_id', 'subject', 'body', 'due_at', 'owner_id', 'status', 'completed_at',
  'canceled_at', 'outcome', 'to_address', 'sent_at', 'message_id', 'created_by', 'created_by_workflow', 'created_at', 'updated_at',
].map((c) => `activities.${c}`);
const SELECT = (db: Knex) => [...COLUMNS, db.raw("(activities.status = 'open' and activities.due_at is not null and activities.due_at < now()) as overdue")];

/** Newest first: an open activity sorts by when it is due, a closed one by when it was closed. */
const TIMELINE_ORDER = "coalesce(case status when 'completed' then completed_at when 'canceled' then canceled_at end, due_at, created_at) desc, created_at desc, id desc";

export class ActivityStore {
  constructor(private readonly db: Knex) {}

  async get(id: string, db: Knex = this.db): Promise<Activity | null> {
    const row = await db('activities').select(SELECT(db)).where({ id }).first();
    return row ? fromRow<Activity>(row) : null;
  }

  async create(input: NewActivity, ctx: WriteContext & { userId: string }): Promise<Activity> {
    return this.db.transaction(async (trx) => {
      await this.assertRegarding(trx, input.regarding);
      if (input.ownerId) await this.assertUser(trx, input.ownerId, 'ownerId');
      const status = input.status ?? (input.type === 'note' ? 'completed' : 'open');
      const [{ id }] = await trx('activities')
        .insert({
          ...toRow({ ...input, regarding: undefined }),
          regarding_type: input.regarding.type,
          regarding_id: input.regarding.id,
          owner_id: input.ownerId ?? ctx.userId,
          status,
          completed_at: status === 'completed' ? trx.fn.now() : null,
          created_by: ctx.userId,
        })
        .returning('id');
      const activity = (await this.get(id, trx))!;
      await recordAudit(trx, { ...ctx, action: 'activity.created', entityType: 'activity', entityId: id, after: activity });
      return activity;
    });
  }

  /**
   * The idempotent write of a workflow step: inserts once per key and returns the same row on every
   * retry. `created` tells whether this call wrote it (and audited it).
   */
  async createForStep(
    key: string,
    input: NewActivity & { ownerId: string; workflowId: string },
  ): Promise<{ activity: Activity; created: boolean }> {
    return this.db.transaction(async (trx) => {
      const status = input.status ?? 'open';
      const inserted = await trx('activities')
        .insert({
          type: input.type,
          regarding_type: input.regarding.type,
          regarding_id: input.regarding.id,
          subject: input.subject,
          body: input.body ?? null,
          due_at: input.dueAt ?? null,
          owner_id: input.ownerId,
          status,
          completed_at: status === 'completed' ? trx.fn.now() : null,
          to_address: input.toAddress ?? null,
          created_by_workflow: input.workflowId,
          idempotency_key: key,
        })
        .onConflict('idempotency_key')
        .ignore()
        .returning('id');
      const created = inserted.length === 1;
      const row = await trx('activities').select(SELECT(trx)).where({ idempotency_key: key }).first();
      const activity = fromRow<Activity>(row);
      if (created) {
        const actor: Actor = { type: 'workflow', id: input.workflowId };
        await recordAudit(trx, { actor, action: 'activity.created', entityType: 'activity', entityId: activity.id, after: activity });
      }
      return { activity, created };
    });
  }

  async markEmailSent(id: string, messageId: string, workflowId: string): Promise<void> {
    await this.db.transaction(async (trx) => {
      const before = await this.get(id, trx);
      const updated = await trx('activities')
        .where({ id })
        .whereNull('sent_at')
        .update({ sent_at: trx.fn.now(), message_id: messageId, status: 'completed', completed_at: trx.fn.now(), updated_at: trx.fn.now() });
      if (updated === 1) {
        await recordAudit(trx, {
          actor: { type: 'workflow', id: workflowId },
          action: 'activity.email_sent',
          entityType: 'activity',
          entityId: id,
          before,
          after: await this.get(id, trx),
        });
      }
    });
  }

  async timeline(regarding: Regarding, filter: TimelineFilter, page: Page): Promise<{ items: Activity[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      q.where({ regarding_type: regarding.type, regarding_id: regarding.id });
      if (filter.types?.length) q.whereIn('type', filter.types);
      if (filter.statuses?.length) {
        const statuses = filter.statuses;
        q.where((inner) => {
          const plain = statuses.filter((s) => s !== 'overdue');
          if (plain.length) inner.orWhereIn('status', plain);
          if (statuses.includes('overdue')) inner.orWhere((o) => o.where('status', 'open').whereNotNull('due_at').where('due_at', '<', this.db.fn.now()));
        });
      }
      return q;
    };
    const [rows, [{ count }]] = await Promise.all([
      where(this.db('activities').select(SELECT(this.db))).orderByRaw(TIMELINE_ORDER).limit(page.limit).offset(page.offset),
      where(this.db('activities')).count<{ count: number }[]>({ count: '*' }),
    ]);
    return { items: rows.map((r: Record<string, unknown>) => fromRow<Activity>(r)), total: Number(count) };
  }

  /** Completes, cancels, reschedules or edits an open activity; a closed one is read-only. */
  async update(id: string, patch: ActivityPatch, ctx: WriteContext): Promise<Activity> {
    return this.db.transaction(async (trx) => {
      const row = await trx('activities').where({ id }).forUpdate().first();
      if (!row) throw new NotFoundError('activity', id);
      const before = (await this.get(id, trx))!;
      if (before.status !== 'open') {
        throw new ConflictError('activity_closed', `activity ${id} is already ${before.status} and cannot be changed`, undefined, { activityStatus: before.status });
      }
      if (patch.ownerId) await this.assertUser(trx, patch.ownerId, 'ownerId');
      const { status, ...fields } = patch;
      await trx('activities')
        .where({ id, status: 'open' })
        .update({
          ...toRow(fields),
          ...(status ? { status } : {}),
          ...(status === 'completed' ? { completed_at: trx.fn.now() } : {}),
          ...(status === 'canceled' ? { canceled_at: trx.fn.now() } : {}),
          updated_at: trx.fn.now(),
        });
      const after = (await this.get(id, trx))!;
      const action = status === 'completed' ? 'activity.completed' : status === 'canceled' ? 'activity.canceled' : patch.dueAt !== undefined ? 'activity.rescheduled' : 'activity.updated';
      await recordAudit(trx, { ...ctx, action, entityType: 'activity', entityId: id, before, after });
      return after;
    });
  }

  private async assertRegarding(trx: Knex, regarding: Regarding): Promise<void> {
    const table = REGARDING_TABLES[regarding.type];
    if (!table) throw new InvalidFieldError('regarding.type', 'invalid_value', `regarding.type must be one of ${REGARDING_TYPES().join(', ')}`);
    const exists = await trx(table).where({ id: regarding.id }).first('id');
    if (!exists) throw new InvalidFieldError('regarding.id', 'not_found', `${regarding.type} ${regarding.id} was not found`);
  }

  private async assertUser(trx: Knex, id: string, field: string): Promise<void> {
    const user = await trx('users').where({ id }).whereNull('disabled_at').first('id');
    if (!user) throw new InvalidFieldError(field, 'unknown_user', `${field} ${id} is not an active user`);
  }
}
