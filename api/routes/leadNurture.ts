/**
 * The lead-nurture sequence through the API: enroll, read its state, stop, pause, resume. The
 * workflow holds the state; these handlers only check who may act and forward to it.
 */
import { z } from 'zod';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { ConflictError, NotFoundError, UnprocessableError } from '../../domain/rejection';
import { recordAudit } from '../../db/stores/audit';
import { LeadStore, type Lead } from '../../db/stores/leads';
import type { User } from '../../db/stores/users';
import type { leadNurtureWorkflow } from '../../workflows/leadNurture';
import {
  MANUAL_STOP_REASONS,
  NURTURE_STEPS,
  getNurtureStateQuery,
  nurtureWorkflowId,
  pauseNurtureUpdate,
  resumeNurtureUpdate,
  stopNurtureUpdate,
  type LeadNurtureInput,
  type NurtureState } from '../../workflows/leadNurture.contract';
import { CustomerTypeKey, LeadIdKey, NurtureStatusKey, NurtureStepKey, OwnerIdKey } from '../../workflows/searchAttributes';
import { WORKERS, assertOwnerOrSupervisor } from '../auth';
import { route, type RouteSpec } from '../http';
import type { Operation } from '../idempotency';
import { workflowCalls } from '../workflowCalls';
import { idParams, isoDateTime } from '../schemas';

const stepSchema = z.object({
  step: z.enum(NURTURE_STEPS),
  title: z.string(),
  activityType: z.enum(['phone_call', 'email']),
  state: z.enum(['pending', 'done', 'skipped']),
  dueAt: isoDateTime().nullable(),
  doneAt: isoDateTime().nullable(),
  activityId: z.uuid().nullable(),
});

export const nurtureSchema = z.object({
  workflowId: z.string(),
  runId: z.string(),
  leadId: z.uuid(),
  ownerId: z.uuid(),
  cadenceVersion: z.number(),
  status: z.enum(['running', 'paused', 'completed', 'stopped']),
  steps: z.array(stepSchema),
  currentStep: z.enum(NURTURE_STEPS).nullable(),
  nextStepAt: isoDateTime().nullable(),
  pausedAt: isoDateTime().nullable(),
  pausedBy: z.uuid().nullable(),
  remainingGapMs: z.number().nullable(),
  stopReason: z.string().nullable().describe('replied, meeting_booked, unsubscribed, bounced, manual, qualified, disqualified, or step_failed (see `failure`)'),
  stoppedBy: z.string().nullable().describe('The user who stopped it, or `system` when the sequence stopped itself (a closed lead, a bounced email, a failed step)'),
  failure: z.object({ step: z.enum(NURTURE_STEPS), code: z.string(), message: z.string() }).nullable().optional()
    .describe('A step that could not be performed at all (its activity failed permanently); the sequence stopped as `step_failed`'),
  startedAt: isoDateTime(),
  endedAt: isoDateTime().nullable(),
});

export const enrolledSchema = z.object({ workflowId: z.string(), runId: z.string(), leadId: z.uuid(), status: z.literal('running') });

export interface NurtureRoutesDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  log: Logger;
}

export function leadNurtureRoutes({ db, temporal, taskQueue }: NurtureRoutesDeps): RouteSpec[] {
  const leads = new LeadStore(db);
  const calls = workflowCalls(temporal);
  const params = idParams('lead');

  /** The lead's latest sequence; `mustRun` refuses one that has ended (an update could not reach it). */
  async function latestSequence(leadId: string, mustRun = false): Promise<{ handle: WorkflowHandle<typeof leadNurtureWorkflow>; runId: string }> {
    await leads.require(leadId);
    const workflowId = nurtureWorkflowId(leadId);
    const description = await calls.describe(workflowId);
    if (!description) throw new NotFoundError('nurture', workflowId);
    if (mustRun && description.status.name !== 'RUNNING') {
      throw new ConflictError('nurture_finished', `the sequence has already ended (${description.status.name.toLowerCase()})`, undefined, { workflowId, runId: description.runId });
    }
    return { handle: temporal.workflow.getHandle<typeof leadNurtureWorkflow>(workflowId), runId: description.runId };
  }

  async function update<A>(user: User, leadId: string, requestId: string, action: string, definition: UpdateDefinition<NurtureState, [A]>, arg: A, operation: Operation) {
    const { handle, runId } = await latestSequence(leadId, true);
    const state = await calls.update(handle.workflowId, definition, arg, operation.operationKey, {
      resource: `/leads/${leadId}/nurture`,
      // It ended between our check and the update.
      ended: () => new ConflictError('nurture_finished', 'the sequence has already ended', undefined, { workflowId: handle.workflowId, runId }),
    });
    await recordAudit(db, { actor: { type: 'user', id: user.id }, action: `nurture.${action}`, entityType: 'lead', entityId: leadId, after: { status: state.status, stopReason: state.stopReason }, requestId });
    return { status: 200, body: { workflowId: handle.workflowId, runId, ...state } };
  }

  const actor = z.object({});
  return [
    route({
      method: 'post', path: '/leads/:id/nurture', tag: 'Nurture', summary: 'Enroll a corporate lead in the nurture sequence',
      description: 'Starts `lead-nurture-<leadId>`: intro call now, information email after 1 day, follow-up email 3 days later, appointment call 2 days after that. Consumer leads are refused (422 `not_corporate`), closed leads too (409 `lead_closed`); a lead already in a running sequence gives 409 `already_enrolled`.',
      roles: WORKERS, params, idempotent: true,
      responses: {
        202: { description: 'Enrolled; the sequence runs in the background', schema: enrolledSchema },
        404: { description: 'No such lead' },
        403: { description: 'Wrong role, or `not_owner`: only the lead’s owner or a manager enrolls it' },
        409: { description: '`lead_closed` or `already_enrolled` (names the running workflow)' },
        422: { description: '`not_corporate` or `email_required`' },
      },
      async handler({ operation, user, params: { id }, requestId }) {
        const lead = await leads.require(id);
        assertOwnerOrSupervisor(user, lead.ownerId, 'lead');
        assertEnrollable(lead);
        const workflowId = nurtureWorkflowId(lead.id);
        const input: LeadNurtureInput = { leadId: lead.id, ownerId: lead.ownerId, customerType: lead.customerType, enrolledBy: user.id };
        const accepted = (runId: string) => ({ status: 202, body: { workflowId, runId, leadId: lead.id, status: 'running' }, headers: { Location: `/leads/${lead.id}/nurture` } });
        let runId: string;
        try {
          const handle = await calls.start<typeof leadNurtureWorkflow>('leadNurtureWorkflow', {
            workflowId, taskQueue, args: [input],
            workflowIdConflictPolicy: 'FAIL', workflowIdReusePolicy: 'ALLOW_DUPLICATE',
            // Which request started it: a rerun of the same request (its answer was lost) is told it did.
            memo: { operation: operation.operationKey },
            staticSummary: `Nurture ${[lead.firstName, lead.lastName].filter(Boolean).join(' ')}${lead.companyName ? ` (${lead.companyName})` : ''}`,
            typedSearchAttributes: [
              { key: LeadIdKey, value: lead.id },
              { key: OwnerIdKey, value: lead.ownerId },
              { key: CustomerTypeKey, value: lead.customerType },
              { key: NurtureStatusKey, value: 'running' },
              { key: NurtureStepKey, value: NURTURE_STEPS[0] },
            ],
          });
          runId = handle.firstExecutionRunId;
        } catch (error) {
          if (error instanceof WorkflowExecutionAlreadyStartedError) {
            const running = await calls.describe(workflowId);
            if (running && running.memo?.operation === operation.operationKey) return accepted(running.runId);
            throw new ConflictError('already_enrolled', `lead ${lead.id} is already in a running nurture sequence (${workflowId})`, undefined, { workflowId, runId: running?.runId });
          }
          throw error;
        }
        await recordAudit(db, { actor: { type: 'user', id: user.id }, action: 'nurture.enrolled', entityType: 'lead', entityId: lead.id, after: { workflowId, runId }, requestId });
        return accepted(runId);
      },
    }),
    route({
      method: 'get', path: '/leads/:id/nurture', tag: 'Nurture', summary: "The lead's nurture sequence: status and steps",
      params,
      responses: { 200: { description: 'The latest sequence of the lead', schema: nurtureSchema }, 404: { description: 'No such lead, or never enrolled (`nurture_not_found`)' } },
      async handler({ params: { id } }) {
        const { handle, runId } = await latestSequence(id);
        const state = await calls.query(handle, getNurtureStateQuery);
        return { status: 200, body: { workflowId: handle.workflowId, runId, ...state } };
      },
    }),
    route({
      method: 'post', path: '/leads/:id/nurture/stop', tag: 'Nurture', summary: 'Stop the sequence; the remaining steps are recorded as skipped',
      roles: WORKERS, params, body: z.strictObject({ reason: z.enum(MANUAL_STOP_REASONS) }), idempotent: true,
      responses: { 200: { description: 'The stopped sequence', schema: nurtureSchema }, 403: { description: '`not_owner`' }, 404: { description: 'No such lead or sequence' }, 409: { description: '`nurture_finished`' } },
      async handler({ operation, user, params: { id }, body, requestId }) {
        const lead = await leads.require(id);
        assertOwnerOrSupervisor(user, lead.ownerId, 'lead');
        return update(user, id, requestId, 'stopped', stopNurtureUpdate, { reason: body.reason, by: user.id }, operation);
      },
    }),
    route({
      method: 'post', path: '/leads/:id/nurture/pause', tag: 'Nurture', summary: 'Pause the sequence (owner or manager)',
      description: 'While paused no step fires. On resume, what was left of the current gap runs; later gaps keep their full length.',
      roles: WORKERS, params, body: actor.optional(), idempotent: true,
      responses: { 200: { description: 'The paused sequence', schema: nurtureSchema }, 403: { description: '`not_owner`' }, 409: { description: '`nurture_already_paused` or `nurture_finished`' } },
      async handler({ operation, user, params: { id }, requestId }) {
        const lead = await leads.require(id);
        assertOwnerOrSupervisor(user, lead.ownerId, 'lead');
        return update(user, id, requestId, 'paused', pauseNurtureUpdate, { by: user.id }, operation);
      },
    }),
    route({
      method: 'post', path: '/leads/:id/nurture/resume', tag: 'Nurture', summary: 'Resume a paused sequence (owner or manager)',
      roles: WORKERS, params, body: actor.optional(), idempotent: true,
      responses: { 200: { description: 'The running sequence', schema: nurtureSchema }, 403: { description: '`not_owner`' }, 409: { description: '`nurture_not_paused` or `nurture_finished`' } },
      async handler({ operation, user, params: { id }, requestId }) {
        const lead = await leads.require(id);
        assertOwnerOrSupervisor(user, lead.ownerId, 'lead');
        return update(user, id, requestId, 'resumed', resumeNurtureUpdate, { by: user.id }, operation);
      },
    }),
  ];
}

function assertEnrollable(lead: Lead): void {
  if (lead.customerType !== 'corporate') {
    throw new UnprocessableError('not_corporate', 'only corporate leads can be nurtured; this lead is a consumer', 'customerType');
  }
  if (lead.status !== 'open') {
    throw new ConflictError('lead_closed', `lead ${lead.id} is already ${lead.status}`, undefined, { leadStatus: lead.status });
  }
  if (!lead.email) {
    throw new UnprocessableError('email_required', 'the sequence sends emails: give the lead an email address first', 'email');
  }
}
