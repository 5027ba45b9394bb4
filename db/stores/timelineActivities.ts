/**
 * Activities: the entries of every record's timeline (SPEC "Activities and the timeline"). An open
 * activity past its due date is overdue (OVERDUE_SQL); timelines list newest first (TIMELINE_ORDER)
 * and are read through db/stores/timelines.ts. Appointments have attendees: users, contacts, or
 * anyone by email. Workflow steps write through `createForStep`, keyed by workflow id + run + step,
 * so a retried activity finds its earlier row instead of writing a second one.
 */
import type { Knex } from 'knex';
import { ConflictError, InvalidFieldError, NotFoundError } from '../../domain/rejection';
import { fromRow, toRow } from '../rows';
import { recordAudit, type Actor } from './audit';
import type { WriteContext } from './context';

export const ACTIVITY_TYPES = ['phone_call', 'email', 'task', 'appointment', 'note'] as const;
export const ACTIVITY_STATUSES = ['open', 'completed', 'canceled'] as const;
export type ActivityType = (typeof ACTIVITY_TYPES)[number];
export type ActivityStatus = (typeof ACTIVITY_STATUSES)[number];

/** Record types an activity can be about, and their tables; later areas add theirs here. */
export const REGARDING_TABLES: Record<string, string> = {
  lead: 'leads', deal: 'deals', quote: 'quotes', account: 'accounts', contact: 'contacts', order: 'orders', invoice: 'invoices',
};
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

/** Who attends an appointment: a user, a contact, or anyone by email. */
export type AttendeeInput = { userId: string } | { contactId: string } | { email: string; name?: string | null };

export interface Attendee {
  type: 'user' | 'contact' | 'email';
  userId: string | null;
  contactId: string | null;
  email: string | null;
  /** The user's or contact's name, or the one given with the email. */
  name: string | null;
}

export interface NewActivity {
  attendees?: AttendeeInput[];
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
  /** Replaces the attendees of an appointment. */
  attendees?: AttendeeInput[];
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

/** SPEC: an open activity past its due date shows as overdue. The one definition of the rule. */
export const OVERDUE_SQL = "(activities.status = 'open' and activities.due_at is not null and activities.due_at < now())";
export const ACTIVITY_SELECT = (db: Knex) => [...COLUMNS, db.raw(`${OVERDUE_SQL} as overdue`)];
const SELECT = ACTIVITY_SELECT;

/** Newest first: an open activity sorts by when it is due, a closed one by when it was closed. */
export const TIMELINE_ORDER =
  "coalesce(case activities.status when 'completed' then activities.completed_at when 'canceled' then activities.canceled_at end, activities.due_at, activities.created_at) desc, activities.created_at desc, activities.id desc";

/** The type and status filters of every timeline, on the `activities` table. */
export function applyTimelineFilter(q: Knex.QueryBuilder, filter: TimelineFilter): Knex.QueryBuilder {
  if (filter.types?.length) q.whereIn('activities.type', filter.types);
  if (filter.statuses?.length) {
    const statuses = filter.statuses;
    q.where((inner) => {
      const plain = statuses.filter((s) => s !== 'overdue');
      if (plain.length) inner.orWhereIn('activities.status', plain);
      if (statuses.includes('overdue')) inner.orWhereRaw(OVERDUE_SQL);
    });
  }
  return q;
}

/** The attendees of the given activities, in the order they were named. */
export async function attendeesOf(db: Knex, activityIds: string[]): Promise<Map<string, Attendee[]>> {
  const out = new Map<string, Attendee[]>();
  if (activityIds.length === 0) return out;
  const rows = await db('activity_attendees as a')
    .leftJoin('users as u', 'u.id', 'a.user_id')
    .leftJoin('contacts as c', 'c.id', 'a.contact_id')
    .whereIn('a.activity_id', activityIds)
    .orderBy([{ column: 'a.activity_id' }, { column: 'a.position' }])
    .select('a.activity_id', 'a.user_id', 'a.contact_id', 'a.email', 'a.name', 'u.name as user_name', 'c.first_name', 'c.last_name');
  for (const r of rows) {
    const attendee: Attendee = {
      type: r.user_id ? 'user' : r.contact_id ? 'contact' : 'email',
      userId: r.user_id, contactId: r.contact_id, email: r.email,
      name: r.user_name ?? (r.contact_id ? [r.first_name, r.last_name].filter(Boolean).join(' ') : r.name),
    };
    out.set(r.activity_id, [...(out.get(r.activity_id) ?? []), attendee]);
  }
  return out;
}

/** CRM activities on a record's timeline (calls, emails, tasks, appointments): rows of `activities`, not Temporal activities. */
export class TimelineActivityStore {
  constructor(private readonly db: Knex) {}

  async get(id: string, db: Knex = this.db): Promise<(Activity & { attendees: Attendee[] }) | null> {
    const row = await db('activities').select(SELECT(db)).where({ id }).first();
    if (!row) return null;
    return { ...fromRow<Activity>(row), attendees: (await attendeesOf(db, [id])).get(id) ?? [] };
  }

  /** `id`, when given (a keyed request's rerun), is reused: the activity made before is returned. */
  async create(input: NewActivity, ctx: WriteContext & { userId: string }, newId: string | null = null): Promise<Activity & { attendees: Attendee[] }> {
    return this.db.transaction(async (trx) => {
      const made = newId ? await this.get(newId, trx) : null;
      if (made) return made;
      await this.assertRegarding(trx, input.regarding);
      if (input.ownerId) await this.assertUser(trx, input.ownerId, 'ownerId');
      if (input.attendees?.length && input.type !== 'appointment') throw new InvalidFieldError('attendees', 'not_allowed', 'only appointments have attendees');
      const status = input.status ?? (input.type === 'note' ? 'completed' : 'open');
      const [{ id }] = await trx('activities')
        .insert({
          ...(newId ? { id: newId } : {}),
          ...toRow({ ...input, regarding: undefined, attendees: undefined }),
          regarding_type: input.regarding.type,
          regarding_id: input.regarding.id,
          owner_id: input.ownerId ?? ctx.userId,
          status,
          completed_at: status === 'completed' ? trx.fn.now() : null,
          created_by: ctx.userId,
        })
        .returning('id');
      if (input.attendees?.length) await this.writeAttendees(trx, id, input.attendees);
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

  /** Completes, cancels, reschedules or edits an open activity; a closed one is read-only. */
  async update(id: string, patch: ActivityPatch, ctx: WriteContext): Promise<Activity & { attendees: Attendee[] }> {
    return this.db.transaction(async (trx) => {
      const row = await trx('activities').where({ id }).forUpdate().first();
      if (!row) throw new NotFoundError('activity', id);
      const before = (await this.get(id, trx))!;
      if (before.status !== 'open') {
        throw new ConflictError('activity_closed', `activity ${id} is already ${before.status} and cannot be changed`, undefined, { activityStatus: before.status });
      }
      if (patch.ownerId) await this.assertUser(trx, patch.ownerId, 'ownerId');
      const { status, attendees, ...fields } = patch;
      if (attendees) {
        if (before.type !== 'appointment') throw new InvalidFieldError('attendees', 'not_allowed', 'only appointments have attendees');
        await trx('activity_attendees').where({ activity_id: id }).delete();
        await this.writeAttendees(trx, id, attendees);
      }
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

  /** Checks each user and contact exists; the same person named twice counts once. */
  private async writeAttendees(trx: Knex, activityId: string, attendees: AttendeeInput[]): Promise<void> {
    const seen = new Set<string>();
    const rows: Array<Record<string, unknown>> = [];
    for (const [index, attendee] of attendees.entries()) {
      const field = `attendees.${index}`;
      let key: string;
      if ('userId' in attendee) {
        await this.assertUser(trx, attendee.userId, `${field}.userId`);
        key = `user:${attendee.userId}`;
      } else if ('contactId' in attendee) {
        const contact = await trx('contacts').where({ id: attendee.contactId }).first('id');
        if (!contact) throw new InvalidFieldError(`${field}.contactId`, 'not_found', `contact ${attendee.contactId} was not found`);
        key = `contact:${attendee.contactId}`;
      } else {
        key = `email:${attendee.email.toLowerCase()}`;
      }
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push({
        activity_id: activityId, position: rows.length + 1,
        user_id: 'userId' in attendee ? attendee.userId : null,
        contact_id: 'contactId' in attendee ? attendee.contactId : null,
        email: 'email' in attendee ? attendee.email : null,
        name: 'email' in attendee ? (attendee.name ?? null) : null,
      });
    }
    if (rows.length) await trx('activity_attendees').insert(rows);
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
