/**
 * Bulk actions on enrollments (issue 9): enroll a list of people; pause, resume or stop every
 * running enrollment that matches a filter; hand a leaving rep's running enrollments to another.
 * The filtered actions are Temporal batch operations over the Web UI's own search attributes: the
 * server signals every match durably (an API restart loses nothing), with progress and a final
 * count at `GET /enrollments/bulk/:id`. The batch's id derives from the request's operation key,
 * so a retried request finds its batch instead of starting a second one.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import type { Db } from '../../db/knex';
import { recordAudit } from '../../db/stores/audit';
import { CalendarStore } from '../../db/stores/calendars';
import { NotFoundError, Rejection } from '../../domain/rejection';
import { MANUAL_STOP_REASONS, stopNurtureSignal } from '../../workflows/leadNurture.contract';
import { pauseEnrollmentSignal, reassignEnrollmentSignal, resumeEnrollmentSignal } from '../../workflows/sequenceEnrollment.contract';
import { NurtureStatusKey, NurtureStepKey, OwnerIdKey, SequenceIdKey } from '../../workflows/searchAttributes';
import { SUPERVISORS, WORKERS } from '../auth';
import { HttpError } from '../errors';
import { route, type RouteSpec } from '../http';
import { sequenceEnrollment } from '../processes/sequences';
import { idParams, isoDateTime } from '../schemas';

const ALREADY_EXISTS = 6;
const NOT_FOUND = 5;

const filterSchema = z.strictObject({
  ownerId: z.uuid().optional(),
  sequenceId: z.uuid().optional(),
  step: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/).optional().describe('The step being worked on or waited for'),
  status: z.enum(['running', 'paused']).optional(),
});

const bulkBody = z.strictObject({
  action: z.enum(['pause', 'resume', 'stop']),
  filter: filterSchema.default({}),
  reason: z.enum(MANUAL_STOP_REASONS).optional().describe('For `stop`: the reason recorded (default `manual`)'),
});

export const bulkSchema = z.object({
  id: z.string(),
  action: z.string(),
  query: z.string().describe('The visibility query the batch runs over (the same text filters the Temporal Web UI)'),
  state: z.enum(['running', 'completed', 'failed', 'unknown']),
  total: z.number().int().describe('Enrollments the batch found'),
  completed: z.number().int().describe('Signalled so far'),
  failed: z.number().int(),
  pending: z.number().int().nullable().describe('Running enrollments the filter matches now that the action has not yet reached (not yet paused, resumed, stopped or handed over), from visibility, which lags a second or two. After `completed`, anything above 0 was missed (a run that started meanwhile, or a batch that found fewer runs than match): send the action again'),
  startedAt: isoDateTime().nullable(),
  closedAt: isoDateTime().nullable(),
});

const personRef = z.strictObject({ type: z.enum(['lead', 'contact']), id: z.uuid() });
export const enrollListSchema = z.object({
  enrolled: z.number().int(),
  refused: z.number().int(),
  results: z.array(z.object({
    type: z.enum(['lead', 'contact']), id: z.uuid(), status: z.enum(['enrolled', 'refused']),
    workflowId: z.string().nullable(), code: z.string().nullable(), detail: z.string().nullable(),
  })),
});

const quote = (value: string): string => `'${value.replace(/'/g, "''")}'`;

function visibilityQuery(filter: z.infer<typeof filterSchema>, types: string[]): string {
  const parts = [`WorkflowType IN (${types.map(quote).join(', ')})`, `ExecutionStatus = 'Running'`];
  if (filter.ownerId) parts.push(`${OwnerIdKey.name} = ${quote(filter.ownerId)}`);
  if (filter.sequenceId) parts.push(`${SequenceIdKey.name} = ${quote(filter.sequenceId)}`);
  if (filter.step) parts.push(`${NurtureStepKey.name} = ${quote(filter.step)}`);
  if (filter.status) parts.push(`${NurtureStatusKey.name} = ${quote(filter.status)}`);
  return parts.join(' AND ');
}

const STATES: Record<number, z.infer<typeof bulkSchema>['state']> = {
  [proto.api.enums.v1.BatchOperationState.BATCH_OPERATION_STATE_RUNNING]: 'running',
  [proto.api.enums.v1.BatchOperationState.BATCH_OPERATION_STATE_COMPLETED]: 'completed',
  [proto.api.enums.v1.BatchOperationState.BATCH_OPERATION_STATE_FAILED]: 'failed',
};

/** What a run still matching the batch's query looks like when the action has not reached it yet. */
const NOT_YET: Record<string, string> = {
  pause: ` AND ${NurtureStatusKey.name} = 'running'`,
  resume: ` AND ${NurtureStatusKey.name} = 'paused'`,
  stop: '',
  reassign: '',
};

const isoOf = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): string | null =>
  t?.seconds ? new Date(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString() : null;

export function enrollmentBulkRoutes({ db, temporal, taskQueue }: { db: Db; temporal: Client; taskQueue: string }): RouteSpec[] {
  const namespaceOf = (): string => temporal.options.namespace;
  const calendars = new CalendarStore(db);
  const { enroll } = sequenceEnrollment({ db, temporal, taskQueue });

  /** The batch's progress; its reason is the visibility query it runs over (the caller is its identity). */
  async function describe(id: string, action: string): Promise<z.infer<typeof bulkSchema>> {
    const d = await temporal.workflowService.describeBatchOperation({ namespace: namespaceOf(), jobId: id });
    const query = d.reason ?? '';
    const pending = query && action in NOT_YET ? (await temporal.workflow.count(`(${query})${NOT_YET[action]}`)).count : null;
    return {
      id, action, query, state: STATES[d.state ?? 0] ?? 'unknown',
      total: Number(d.totalOperationCount ?? 0), completed: Number(d.completeOperationCount ?? 0), failed: Number(d.failureOperationCount ?? 0), pending,
      startedAt: isoOf(d.startTime), closedAt: isoOf(d.closeTime),
    };
  }

  /** Starts the batch once per operation; a retry of the same request finds it. */
  async function startBatch(jobId: string, query: string, signal: string, arg: unknown, identity: string): Promise<void> {
    try {
      await temporal.workflowService.startBatchOperation({
        namespace: namespaceOf(), jobId, visibilityQuery: query, reason: query,
        signalOperation: { signal, input: { payloads: [defaultPayloadConverter.toPayload(arg)] }, identity },
      });
    } catch (error) {
      if ((error as { code?: number }).code !== ALREADY_EXISTS) throw error;
    }
  }

  const jobIdOf = (operationKey: string, action: string): string => `enrollments-${action}-${crypto.createHash('sha256').update(operationKey).digest('hex').slice(0, 24)}`;

  return [
    route({
      method: 'post', path: '/enrollments/bulk', tag: 'Sequences', summary: 'Pause, resume or stop every running enrollment that matches a filter (managers)',
      description: 'Runs as a Temporal batch operation: durable, visible in the Web UI under Batch Operations, with progress here. The filter is owner, sequence, current step and status; no filter means every running enrollment. Each run re-checks its own state, so one already paused (or finished meanwhile) is left as it is. Stop also reaches the lead-nurture runs from before sequences were data; pause and resume reach sequence enrollments.',
      roles: SUPERVISORS, body: bulkBody, idempotent: true,
      responses: { 202: { description: 'The batch started', schema: bulkSchema } },
      async handler({ user, body, operation, requestId }) {
        const types = body.action === 'stop' ? ['sequenceEnrollmentWorkflow', 'leadNurtureWorkflow'] : ['sequenceEnrollmentWorkflow'];
        const query = visibilityQuery(body.filter, types);
        const jobId = jobIdOf(operation.operationKey, body.action);
        const [name, arg] = body.action === 'pause' ? [pauseEnrollmentSignal.name, { by: user.id }]
          : body.action === 'resume' ? [resumeEnrollmentSignal.name, { by: user.id }]
            : [stopNurtureSignal.name, { reason: body.reason ?? 'manual', by: user.id }];
        await startBatch(jobId, query, name, arg, user.id);
        await recordAudit(db, { actor: { type: 'user', id: user.id }, action: `enrollments.bulk_${body.action}`, entityType: 'sequence', entityId: body.filter.sequenceId ?? '*', after: { jobId, query }, requestId });
        return { status: 202, body: await describe(jobId, body.action), headers: { Location: `/enrollments/bulk/${jobId}` } };
      },
    }),
    route({
      method: 'get', path: '/enrollments/bulk/:id', tag: 'Sequences', summary: 'A bulk action’s progress and final count',
      roles: SUPERVISORS, params: z.object({ id: z.string().regex(/^enrollments-(pause|resume|stop|reassign)-[0-9a-f]{24}$/) }),
      responses: { 200: { description: 'The batch', schema: bulkSchema }, 404: { description: 'No such batch' } },
      async handler({ params: { id } }) {
        try {
          return { status: 200, body: await describe(id, id.split('-')[1]) };
        } catch (error) {
          if ((error as { code?: number }).code === NOT_FOUND) throw new NotFoundError('bulk action', id);
          throw error;
        }
      },
    }),
    route({
      method: 'post', path: '/enrollments/reassign', tag: 'Sequences', summary: 'Hand a rep’s running enrollments to another rep (a rep leaves)',
      description: 'The people in those enrollments get the new owner, and every running enrollment of the old owner is told the new owner and their calendar: future steps go to the new owner, due by the end of their working day.',
      roles: SUPERVISORS, body: z.strictObject({ fromOwnerId: z.uuid(), toOwnerId: z.uuid() }), idempotent: true,
      responses: { 202: { description: 'The batch started', schema: bulkSchema.extend({ people: z.number().int().describe('Leads and contacts given the new owner') }) }, 404: { description: 'No such user' } },
      async handler({ user, body, operation, requestId }) {
        const to = await calendars.user(body.toOwnerId);
        await calendars.user(body.fromOwnerId);
        const people = await db.transaction(async (trx) => {
          let count = 0;
          for (const [type, table] of [['lead', 'leads'], ['contact', 'contacts']] as const) {
            count += await trx(table).where({ owner_id: body.fromOwnerId })
              .whereIn('id', trx('sequence_enrollments').where({ status: 'running', person_type: type, owner_id: body.fromOwnerId }).select('person_id'))
              .update({ owner_id: body.toOwnerId, updated_at: trx.fn.now() });
          }
          await trx('sequence_enrollments').where({ status: 'running', owner_id: body.fromOwnerId }).update({ owner_id: body.toOwnerId });
          await recordAudit(trx, { actor: { type: 'user', id: user.id }, action: 'enrollments.reassigned', entityType: 'sequence', entityId: '*', after: { ...body, people: count }, requestId });
          return count;
        });
        const query = visibilityQuery({ ownerId: body.fromOwnerId }, ['sequenceEnrollmentWorkflow']);
        const jobId = jobIdOf(operation.operationKey, 'reassign');
        const holidays = (await calendars.holidays(new Date(Date.now() - 86_400_000).toISOString().slice(0, 10))).map((h) => h.day);
        await startBatch(jobId, query, reassignEnrollmentSignal.name,
          { ownerId: body.toOwnerId, ownerCalendar: { zone: to.zone, hours: to.hours, holidays }, by: user.id }, user.id);
        return { status: 202, body: { ...(await describe(jobId, 'reassign')), people }, headers: { Location: `/enrollments/bulk/${jobId}` } };
      },
    }),
    route({
      method: 'post', path: '/sequences/:id/enrollments', tag: 'Sequences', summary: 'Enroll a list of people (up to 200) in the sequence',
      description: 'Each person is enrolled as `POST /{leads|contacts}/:id/nurture` would, with the same refusals, reported per person; one refusal does not stop the others. Retrying the request with the same Idempotency-Key enrolls nobody twice.',
      roles: WORKERS, params: idParams('sequence'), body: z.strictObject({ people: z.array(personRef).min(1).max(200) }), idempotent: true,
      responses: { 200: { description: 'Per person: enrolled or refused with the code', schema: enrollListSchema }, 404: { description: 'No such sequence' } },
      async handler({ user, params: { id }, body, operation, requestId }) {
        const results: z.infer<typeof enrollListSchema>['results'] = [];
        for (const person of body.people) {
          try {
            const enrolled = await enroll(user, person.type, person.id, id, { ...operation, operationKey: `${operation.operationKey}|${person.type}:${person.id}` }, requestId);
            results.push({ ...person, status: 'enrolled', workflowId: enrolled.workflowId, code: null, detail: null });
          } catch (error) {
            if (error instanceof NotFoundError && error.message.includes('sequence')) throw error;
            if (!(error instanceof Rejection) && !(error instanceof HttpError)) throw error;
            results.push({ ...person, status: 'refused', workflowId: null, code: error.code, detail: error.message });
          }
        }
        const enrolled = results.filter((r) => r.status === 'enrolled').length;
        return { status: 200, body: { enrolled, refused: results.length - enrolled, results } };
      },
    }),
  ];
}
