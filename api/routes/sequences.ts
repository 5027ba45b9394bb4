/**
 * Sequences as data (issue 9): managers and admins create and edit a draft, publish it as a new
 * immutable version, archive a sequence; everyone reads them and the funnel. The company's
 * holidays and each user's zone and working hours, which the waits use, live here too.
 */
import { z } from 'zod';
import type { Db } from '../../db/knex';
import { CalendarStore } from '../../db/stores/calendars';
import { SequenceStore } from '../../db/stores/sequences';
import { UserStore } from '../../db/stores/users';
import { NotFoundError } from '../../domain/rejection';
import { MAX_STEPS, STEP_TYPES, unknownMergeFields, MERGE_FIELDS } from '../../domain/sequences/definition';
import { WAIT_UNITS, isValidWorkingHours } from '../../domain/sequences/time';
import { userContext } from '../../db/stores/context';
import { SUPERVISORS } from '../auth';
import { ForbiddenError } from '../errors';
import { route, type RouteSpec } from '../http';
import { idParams, isoDate, isoDateTime, text, optionalText, timeZone } from '../schemas';

const template = (max: number) => z.string().max(max).superRefine((value, ctx) => {
  const unknown = unknownMergeFields(value);
  if (unknown.length) ctx.addIssue({ code: 'custom', message: `unknown merge field(s) ${unknown.map((f) => `{{${f}}}`).join(', ')}; known: ${MERGE_FIELDS.join(', ')}`, params: { code: 'unknown_merge_field' } });
});

const MAX_WAIT: Record<(typeof WAIT_UNITS)[number], number> = { calendar_days: 365, business_days: 260, hours: 24 * 365 };

const waitSchema = z.strictObject({
  amount: z.number().int().min(0),
  unit: z.enum(WAIT_UNITS as [string, ...string[]]) as z.ZodType<(typeof WAIT_UNITS)[number]>,
}).superRefine((wait, ctx) => {
  if (wait.amount > MAX_WAIT[wait.unit]) ctx.addIssue({ code: 'custom', path: ['amount'], message: `at most ${MAX_WAIT[wait.unit]} ${wait.unit}`, params: { code: 'too_large' } });
});

const stepSchema = z.strictObject({
  key: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'a lower-case identifier: letters, digits and _, at most 40').describe('Unique in the sequence'),
  type: z.enum(STEP_TYPES),
  title: text(120),
  wait: waitSchema.describe('Before this step: from the enrollment (first step) or the previous step'),
  sendWindow: z.boolean().default(false).describe('Emails only: send inside the recipient’s working hours, moved to the next window otherwise'),
  subject: template(200).pipe(z.string().trim().min(1)),
  body: template(4_000).describe('At most 4,000 characters, so a sequence of 30 steps fits one request'),
}).superRefine((step, ctx) => {
  if (step.sendWindow && step.type !== 'email') ctx.addIssue({ code: 'custom', path: ['sendWindow'], message: 'only email steps have a send window', params: { code: 'not_allowed' } });
});

const stepsSchema = z.array(stepSchema).max(MAX_STEPS).superRefine((steps, ctx) => {
  const seen = new Set<string>();
  steps.forEach((step, i) => {
    if (seen.has(step.key)) ctx.addIssue({ code: 'custom', path: [i, 'key'], message: `step key ${step.key} is used twice`, params: { code: 'duplicate_key' } });
    seen.add(step.key);
  });
});

const eligibilitySchema = z.strictObject({
  customerTypes: z.array(z.enum(['corporate', 'consumer'])).min(1).max(2).refine((t) => new Set(t).size === t.length, { message: 'listed twice', params: { code: 'duplicate_value' } }),
});

const draftBody = z.strictObject({
  name: text(120),
  description: optionalText(2000),
  eligibility: eligibilitySchema.default({ customerTypes: ['corporate'] }),
  steps: stepsSchema.default([]),
});

const patchBody = z.strictObject({
  name: text(120).optional(),
  description: optionalText(2000),
  eligibility: eligibilitySchema.optional(),
  steps: stepsSchema.optional(),
}).refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'name at least one field to change', params: { code: 'empty_patch' } });

const stepOut = z.object({
  key: z.string(), type: z.enum(STEP_TYPES), title: z.string(),
  wait: z.object({ amount: z.number().int(), unit: z.enum(WAIT_UNITS as [string, ...string[]]) }),
  sendWindow: z.boolean(), subject: z.string(), body: z.string(),
});
const eligibilityOut = z.object({ customerTypes: z.array(z.enum(['corporate', 'consumer'])) });

export const sequenceSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  eligibility: eligibilityOut,
  steps: z.array(stepOut).describe('The draft: what the next publish freezes'),
  latestVersion: z.number().int().nullable().describe('The version new enrollments get; null until the first publish'),
  isDefault: z.boolean(),
  status: z.enum(['active', 'archived']),
  createdBy: z.uuid().nullable(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
  archivedAt: isoDateTime().nullable(),
});

const versionSummary = z.object({ version: z.number().int(), name: z.string(), publishedBy: z.uuid().nullable(), publishedAt: isoDateTime() });
export const sequenceDetailSchema = sequenceSchema.extend({ versions: z.array(versionSummary) });
export const sequenceVersionSchema = z.object({
  sequenceId: z.uuid(), version: z.number().int(), name: z.string(), eligibility: eligibilityOut, steps: z.array(stepOut),
  publishedBy: z.uuid().nullable(), publishedAt: isoDateTime(),
});
export const funnelSchema = z.object({
  sequenceId: z.uuid(),
  versions: z.array(z.object({
    version: z.number().int(),
    enrolled: z.number().int(), running: z.number().int(), completed: z.number().int(),
    exited: z.record(z.string(), z.number().int()).describe('Stopped enrollments by reason: replied, unsubscribed, meeting_booked, bounced, qualified, …'),
    steps: z.array(z.object({ key: z.string(), reached: z.number().int(), skipped: z.number().int() })),
  })),
});

const holidaySchema = z.object({ day: isoDate(), name: z.string() });
const workingHoursSchema = z.strictObject({
  days: z.array(z.number().int().min(1).max(7)).min(1).max(7),
  start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:mm'),
  end: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:mm'),
}).refine(isValidWorkingHours, { message: 'start must be before end, and each day listed once', params: { code: 'invalid_working_hours' } });
const zoneSchema = timeZone();
export const calendarSchema = z.object({ zone: z.string(), hours: z.object({ days: z.array(z.number().int()), start: z.string(), end: z.string() }), signature: z.string().nullable() });

export function sequenceRoutes({ db }: { db: Db }): RouteSpec[] {
  const sequences = new SequenceStore(db);
  const calendars = new CalendarStore(db);
  const users = new UserStore(db);
  const params = idParams('sequence');
  const tag = 'Sequences';

  async function detail(id: string) {
    const sequence = await sequences.require(id);
    return { ...sequence, versions: await sequences.versions(id) };
  }

  return [
    route({
      method: 'get', path: '/sequences', tag, summary: 'The sequences (archived ones with `includeArchived=true`)',
      query: z.object({ includeArchived: z.enum(['true', 'false']).transform((v) => v === 'true').optional() }),
      responses: { 200: { description: 'The sequences, the default first', schema: z.object({ data: z.array(sequenceSchema) }) } },
      async handler({ query }) {
        return { status: 200, body: { data: await sequences.list(query.includeArchived ?? false) } };
      },
    }),
    route({
      method: 'post', path: '/sequences', tag, summary: 'Create a sequence (a draft; publish it to enroll people)',
      description: `Steps: \`phone_call\`, \`email\`, \`task\` or \`appointment\`, each after a wait in \`calendar_days\` (exact 24 h), \`business_days\` (the recipient's working days, same local time) or \`hours\`. Subjects and bodies take merge fields: ${MERGE_FIELDS.map((f) => `\`{{${f}}}\``).join(', ')}; an unknown one is 400 \`unknown_merge_field\`.`,
      roles: SUPERVISORS, body: draftBody,
      responses: { 201: { description: 'The new sequence', schema: sequenceDetailSchema } },
      async handler({ user, body, requestId }) {
        const created = await sequences.create({ name: body.name, description: body.description ?? null, eligibility: body.eligibility, steps: body.steps }, userContext(user.id, requestId));
        return { status: 201, body: await detail(created.id), headers: { Location: `/sequences/${created.id}` } };
      },
    }),
    route({
      method: 'get', path: '/sequences/:id', tag, summary: 'A sequence: its draft and its published versions', params,
      responses: { 200: { description: 'The sequence', schema: sequenceDetailSchema }, 404: { description: 'No such sequence' } },
      async handler({ params: { id } }) {
        return { status: 200, body: await detail(id) };
      },
    }),
    route({
      method: 'patch', path: '/sequences/:id', tag, summary: 'Edit the draft (published versions never change)', params, body: patchBody,
      roles: SUPERVISORS,
      responses: { 200: { description: 'The sequence', schema: sequenceDetailSchema }, 404: { description: 'No such sequence' }, 409: { description: '`sequence_archived`' } },
      async handler({ user, params: { id }, body, requestId }) {
        await sequences.updateDraft(id, { name: body.name, description: body.description, eligibility: body.eligibility, steps: body.steps }, userContext(user.id, requestId));
        return { status: 200, body: await detail(id) };
      },
    }),
    route({
      method: 'post', path: '/sequences/:id/publish', tag, summary: 'Publish the draft as the next version', params,
      description: 'New enrollments get this version; running ones keep the version they started with.',
      roles: SUPERVISORS,
      responses: { 201: { description: 'The new version', schema: sequenceVersionSchema }, 404: { description: 'No such sequence' }, 409: { description: '`sequence_archived`, `sequence_steps_required`' } },
      async handler({ user, params: { id }, requestId }) {
        const version = await sequences.publish(id, userContext(user.id, requestId));
        return { status: 201, body: version, headers: { Location: `/sequences/${id}/versions/${version.version}` } };
      },
    }),
    route({
      method: 'post', path: '/sequences/:id/archive', tag, summary: 'Archive: no new enrollments; running ones go on', params,
      roles: SUPERVISORS,
      responses: { 200: { description: 'The archived sequence', schema: sequenceDetailSchema }, 404: { description: 'No such sequence' }, 409: { description: '`sequence_archived`, `sequence_is_default`' } },
      async handler({ user, params: { id }, requestId }) {
        await sequences.archive(id, userContext(user.id, requestId));
        return { status: 200, body: await detail(id) };
      },
    }),
    route({
      method: 'get', path: '/sequences/:id/versions/:version', tag, summary: 'One published version, as enrollments run it',
      params: z.object({ id: z.uuid(), version: z.coerce.number().int().min(1).max(1_000_000) }),
      responses: { 200: { description: 'The version', schema: sequenceVersionSchema }, 404: { description: 'No such sequence or version' } },
      async handler({ params: { id, version } }) {
        const found = await sequences.version(id, version);
        if (!found) throw new NotFoundError('sequence version', `${id}/${version}`);
        return { status: 200, body: found };
      },
    }),
    route({
      method: 'get', path: '/sequences/:id/report', tag, summary: 'The funnel per version: enrolled, reached each step, exited by reason, completed', params,
      responses: { 200: { description: 'The funnel', schema: funnelSchema }, 404: { description: 'No such sequence' } },
      async handler({ params: { id } }) {
        await sequences.require(id);
        return { status: 200, body: { sequenceId: id, versions: await sequences.funnel(id) } };
      },
    }),
    route({
      method: 'get', path: '/holidays', tag, summary: 'The company’s holidays: business-day waits and working windows skip them',
      responses: { 200: { description: 'The holidays, by date', schema: z.object({ data: z.array(holidaySchema) }) } },
      async handler() {
        return { status: 200, body: { data: await calendars.holidays() } };
      },
    }),
    route({
      method: 'put', path: '/holidays/:day', tag, summary: 'Add or rename a holiday (applies to enrollments started afterwards)',
      roles: SUPERVISORS, params: z.object({ day: isoDate() }), body: z.strictObject({ name: text(120) }),
      responses: { 200: { description: 'Renamed', schema: holidaySchema }, 201: { description: 'Added', schema: holidaySchema } },
      async handler({ params: { day }, body }) {
        const { holiday, created } = await calendars.putHoliday({ day, name: body.name });
        return { status: created ? 201 : 200, body: holiday };
      },
    }),
    route({
      method: 'delete', path: '/holidays/:day', tag, summary: 'Remove a holiday',
      roles: SUPERVISORS, params: z.object({ day: isoDate() }),
      responses: { 204: { description: 'Removed' }, 404: { description: 'No such holiday' } },
      async handler({ params: { day } }) {
        if (!(await calendars.deleteHoliday(day))) throw new NotFoundError('holiday', day);
        return { status: 204 };
      },
    }),
    route({
      method: 'get', path: '/users/:id/calendar', tag, summary: 'A user’s time zone, working hours and email signature', params: idParams('user'),
      responses: { 200: { description: 'The calendar', schema: calendarSchema }, 404: { description: 'No such user' } },
      async handler({ params: { id } }) {
        const { zone, hours, signature } = await calendars.user(id);
        return { status: 200, body: { zone, hours, signature } };
      },
    }),
    route({
      method: 'patch', path: '/users/:id/calendar', tag, summary: 'Set a user’s time zone, working hours or signature (the user, or a manager or admin)',
      params: idParams('user'),
      body: z.strictObject({ zone: zoneSchema.optional(), hours: workingHoursSchema.optional(), signature: optionalText(2000) }),
      responses: { 200: { description: 'The calendar', schema: calendarSchema }, 403: { description: '`not_owner`: someone else’s calendar' }, 404: { description: 'No such user' } },
      async handler({ user, params: { id }, body }) {
        if (user.id !== id && !SUPERVISORS.includes(user.role)) {
          throw new ForbiddenError('only the user, a manager or an admin changes a calendar', 'not_owner');
        }
        if (!(await users.get(id))) throw new NotFoundError('user', id);
        const { zone, hours, signature } = await calendars.setUser(id, { zone: body.zone, hours: body.hours, signature: body.signature });
        return { status: 200, body: { zone, hours, signature } };
      },
    }),
  ];
}
