/** Activities on any record's timeline: create, and complete / cancel / reschedule / edit. */
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { Logger } from '../../config/logger';
import { stopSequenceOfPerson } from '../processes/sequences';
import type { Db } from '../../db/knex';
import { ACTIVITY_TYPES, TimelineActivityStore, REGARDING_TYPES, type ActivityPatch } from '../../db/stores/timelineActivities';
import { NotFoundError } from '../../domain/rejection';
import { TechCheckStore } from '../../db/stores/techChecks';
import type { Role } from '../../db/stores/users';
import type { TechCheckReminderKind } from '../../workflows/dealLifecycle.contract';
import { assertMayAssignOwner, assertMayWorkActivity } from '../auth';
import { ForbiddenError } from '../errors';
import { activitySchema } from '../views/timeline';
import { route, type RouteSpec } from '../http';
import { idFor } from '../idempotency';
import { emailAddress, idParams, isoDateTime, optionalText, text } from '../schemas';

/** Who attends an appointment: a user, a contact, or anyone by email. */
const attendeeInput = z.union([
  z.strictObject({ userId: z.uuid() }),
  z.strictObject({ contactId: z.uuid() }),
  z.strictObject({ email: emailAddress(), name: optionalText(200) }),
]);
const attendeesInput = z.array(attendeeInput).max(100).optional().describe('Appointments only: users (`userId`), contacts (`contactId`) or anyone (`email`, `name`)');

const createBody = z.strictObject({
  type: z.enum(ACTIVITY_TYPES),
  regarding: z.strictObject({ type: z.string().refine((t) => REGARDING_TYPES().includes(t), { params: { code: 'invalid_value' }, message: 'is not a record type with a timeline' }), id: z.uuid() }),
  subject: text(300),
  body: optionalText(10_000),
  dueAt: isoDateTime().nullable().optional(),
  ownerId: z.uuid().optional().describe('Defaults to the caller'),
  status: z.enum(['open', 'completed']).optional().describe('Notes default to completed, the rest to open'),
  outcome: optionalText(500),
  attendees: attendeesInput,
});

const patchBody = z
  .strictObject({
    status: z.enum(['completed', 'canceled']).optional().describe('Complete or cancel; both are final'),
    dueAt: isoDateTime().nullable().optional().describe('Reschedule'),
    subject: text(300).optional(),
    body: optionalText(10_000),
    outcome: optionalText(500),
    ownerId: z.uuid().optional(),
    attendees: attendeesInput.describe('Replaces the attendees of an open appointment'),
  })
  .refine((v) => Object.keys(v).length > 0, { message: 'name at least one field to change', params: { code: 'empty_patch' } });

/** The team that works a Tech Check reminder nobody owns. */
const REMINDER_TEAMS: Record<TechCheckReminderKind, Role> = { tech_consultants: 'tech_consultant', manager: 'manager' };

/** A completed appointment with a person is a meeting booked: their sequence stops (issue 9). */
async function meetingBooked(temporal: Client, log: Logger, activity: { type: string; status: string; regardingType: string; regardingId: string }, by: string): Promise<void> {
  if (activity.type !== 'appointment' || activity.status !== 'completed') return;
  if (activity.regardingType !== 'lead' && activity.regardingType !== 'contact') return;
  await stopSequenceOfPerson(temporal, log, activity.regardingType, activity.regardingId, { reason: 'meeting_booked', by });
}

export function activityRoutes({ db, temporal, log }: { db: Db; temporal: Client; log: Logger }): RouteSpec[] {
  const activities = new TimelineActivityStore(db);
  const techChecks = new TechCheckStore(db);
  return [
    route({
      method: 'post', path: '/activities', tag: 'Timeline', summary: 'Add an activity to a record’s timeline',
      description: 'Any signed-in user may add an activity to any record’s timeline; it is theirs unless they name another owner (`ownerId`), which technical consultants may not.',
      body: createBody,
      responses: { 201: { description: 'The new activity', schema: activitySchema }, 403: { description: '`owner_reassign_forbidden`: a technical consultant naming another owner' } },
      async handler({ operation, user, body, requestId }) {
        // Reps hand tasks to each other; a technical consultant's notes and tasks stay their own.
        if (body.ownerId && body.ownerId !== user.id && user.role === 'tech_consultant') {
          throw new ForbiddenError('a technical consultant may only create activities they own', 'owner_reassign_forbidden');
        }
        const activity = await activities.create({ ...body, body: body.body ?? null, outcome: body.outcome ?? null }, { actor: { type: 'user', id: user.id }, userId: user.id, requestId }, idFor(operation, 'activity'));
        await meetingBooked(temporal, log, activity, user.id);
        return { status: 201, body: activity, headers: { Location: `/activities/${activity.id}` } };
      },
    }),
    route({
      method: 'get', path: '/activities/:id', tag: 'Timeline', summary: 'Read an activity', params: idParams('activity'),
      responses: { 200: { description: 'The activity', schema: activitySchema }, 404: { description: 'No such activity' } },
      async handler({ params: { id } }) {
        const activity = await activities.get(id);
        if (!activity) throw new NotFoundError('activity', id);
        return { status: 200, body: activity };
      },
    }),
    route({
      method: 'patch', path: '/activities/:id', tag: 'Timeline', summary: 'Complete, cancel, reschedule or edit an open activity',
      description: 'Completed and canceled activities are final (409 `activity_closed`). Its owner, a manager or an admin changes an activity; a task left for a team (a Tech Check reminder for the technical consultants, or for any manager) is worked by that team, and a member may take it (`ownerId`: themself). Giving an activity to someone else needs a manager or an admin.',
      params: idParams('activity'), body: patchBody,
      responses: {
        200: { description: 'The changed activity', schema: activitySchema }, 403: { description: '`not_owner`, `owner_reassign_forbidden`' },
        404: { description: 'No such activity' }, 409: { description: '`activity_closed`' },
      },
      async handler({ user, params: { id }, body, requestId }) {
        const current = await activities.get(id);
        if (!current) throw new NotFoundError('activity', id);
        const reminder = current.ownerId === null ? await techChecks.reminderKind(id) : null;
        assertMayWorkActivity(user, current, reminder ? REMINDER_TEAMS[reminder] : null);
        assertMayAssignOwner(user, body.ownerId, current.ownerId);
        const activity = await activities.update(id, body as ActivityPatch, { actor: { type: 'user', id: user.id }, requestId });
        await meetingBooked(temporal, log, activity, user.id);
        return { status: 200, body: activity };
      },
    }),
  ];
}
