/**
 * The lead-nurture sequence through the API: enroll, read its state, stop, pause, resume. The
 * workflow holds the state; these handlers only check who may act and forward to it.
 */
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { ConflictError, NotFoundError } from '../../domain/rejection';
import { STEP_TYPES } from '../../domain/sequences/definition';
import { recordAudit } from '../../db/stores/audit';
import { PersonStore } from '../../db/stores/people';
import type { PersonType } from '../../db/stores/sequences';
import type { User } from '../../db/stores/users';
import {
  MANUAL_STOP_REASONS,
  getNurtureStateQuery,
  pauseNurtureUpdate,
  resumeNurtureUpdate,
  stopNurtureUpdate,
  type NurtureState } from '../../workflows/leadNurture.contract';
import { enrollmentWorkflowId, type SequenceState } from '../../workflows/sequenceEnrollment.contract';
import { sequenceEnrollment } from '../processes/sequences';
import { WORKERS, assertOwnerOrSupervisor } from '../auth';
import { route, type RouteSpec } from '../http';
import type { Operation } from '../idempotency';
import { workflowCalls } from '../workflowCalls';
import { idParams, isoDateTime } from '../schemas';

const stepSchema = z.object({
  step: z.string().describe('The step key: `intro_call`, `information_email`, … in the default sequence'),
  title: z.string(),
  activityType: z.enum(STEP_TYPES),
  state: z.enum(['pending', 'done', 'skipped']),
  dueAt: isoDateTime().nullable(),
  doneAt: isoDateTime().nullable(),
  activityId: z.uuid().nullable(),
  skipReason: z.string().nullable().optional().describe('Why the step was skipped while the sequence went on (`do_not_email`)'),
});

const personSchema = z.object({ type: z.enum(['lead', 'contact']), id: z.uuid() });

export const nurtureSchema = z.object({
  workflowId: z.string(),
  runId: z.string(),
  leadId: z.uuid().nullable().describe('The lead, when the person is a lead'),
  person: personSchema,
  sequenceId: z.uuid().nullable().describe('Null for the runs started before sequences were data (they run the SPEC cadence)'),
  sequenceVersion: z.number().int().nullable(),
  sequenceName: z.string().nullable(),
  ownerId: z.uuid(),
  cadenceVersion: z.number(),
  status: z.enum(['running', 'paused', 'completed', 'stopped']),
  steps: z.array(stepSchema),
  currentStep: z.string().nullable(),
  nextStepAt: isoDateTime().nullable(),
  pausedAt: isoDateTime().nullable(),
  pausedBy: z.uuid().nullable(),
  remainingGapMs: z.number().nullable(),
  stopReason: z.string().nullable().describe('replied, meeting_booked, unsubscribed, bounced, manual, qualified, disqualified, or step_failed (see `failure`)'),
  stoppedBy: z.string().nullable().describe('The user who stopped it, or `system` when the sequence stopped itself (a reply, an unsubscribe, a meeting, a closed lead, a bounced email, a failed step)'),
  failure: z.object({ step: z.string(), code: z.string(), message: z.string() }).nullable().optional()
    .describe('A step that could not be performed at all (its activity failed permanently); the sequence stopped as `step_failed`'),
  startedAt: isoDateTime(),
  endedAt: isoDateTime().nullable(),
});

export const enrolledSchema = z.object({
  workflowId: z.string(), runId: z.string(), leadId: z.uuid().nullable(), person: personSchema,
  sequenceId: z.uuid(), sequenceVersion: z.number().int(), status: z.literal('running'),
});

/** Either workflow type's state, as the API shows it (the runs from before sequences lack the new fields). */
function view(workflowId: string, runId: string, type: PersonType, personId: string, state: NurtureState | SequenceState) {
  const s = state as Partial<SequenceState> & NurtureState;
  return {
    ...s, workflowId, runId, leadId: type === 'lead' ? personId : null, person: s.person ?? { type, id: personId },
    sequenceId: s.sequenceId ?? null, sequenceVersion: s.sequenceVersion ?? null, sequenceName: s.sequenceName ?? null,
    steps: s.steps.map((step) => ({ ...step, activityType: step.activityType })),
  };
}

export interface NurtureRoutesDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  log: Logger;
}

const enrollBody = z.strictObject({
  sequenceId: z.uuid().optional().describe('The sequence to run (its latest published version); the default sequence when absent'),
}).optional();

/** Enroll, read, stop, pause and resume a person's sequence: the same routes for leads and contacts. */
function personSequenceRoutes({ db, temporal, taskQueue }: NurtureRoutesDeps, type: PersonType): RouteSpec[] {
  const people = new PersonStore(db);
  const calls = workflowCalls(temporal);
  const params = idParams(type);
  const base = `/${type}s/:id/nurture`;
  const tag = 'Nurture';
  const { enroll } = sequenceEnrollment({ db, temporal, taskQueue });

  /** The person's latest sequence; `mustRun` refuses one that has ended (an update could not reach it). */
  async function latestSequence(personId: string, mustRun = false): Promise<{ workflowId: string; runId: string }> {
    await people.require(type, personId);
    const workflowId = enrollmentWorkflowId(type, personId);
    const description = await calls.describe(workflowId);
    if (!description) throw new NotFoundError('nurture', workflowId);
    if (mustRun && description.status.name !== 'RUNNING') {
      throw new ConflictError('nurture_finished', `the sequence has already ended (${description.status.name.toLowerCase()})`, undefined, { workflowId, runId: description.runId });
    }
    return { workflowId, runId: description.runId };
  }

  async function update<A>(user: User, personId: string, requestId: string, action: string, definition: UpdateDefinition<NurtureState, [A]>, arg: A, operation: Operation) {
    const person = await people.require(type, personId);
    assertOwnerOrSupervisor(user, person.ownerId, type);
    const { workflowId, runId } = await latestSequence(personId, true);
    const state = await calls.update(workflowId, definition, arg, operation.operationKey, {
      resource: base.replace(':id', personId),
      // It ended between our check and the update.
      ended: () => new ConflictError('nurture_finished', 'the sequence has already ended', undefined, { workflowId, runId }),
    });
    await recordAudit(db, { actor: { type: 'user', id: user.id }, action: `nurture.${action}`, entityType: type, entityId: personId, after: { status: state.status, stopReason: state.stopReason }, requestId });
    return { status: 200, body: view(workflowId, runId, type, personId, state) };
  }

  const actor = z.object({});
  return [
    route({
      method: 'post', path: base, tag, summary: `Enroll a ${type} in a sequence (the default one unless \`sequenceId\` names another)`,
      description: `Starts \`${type}-nurture-<${type}Id>\` on the latest published version of the sequence; the run keeps that version whatever is published later. A person is in at most one running sequence (409 \`already_enrolled\`). The default sequence takes corporate people only (422 \`not_corporate\`; another sequence's eligibility gives \`not_eligible\`); a closed lead gives 409 \`lead_closed\`; a sequence with emails needs an email address (422 \`email_required\`) and refuses a person who unsubscribed (409 \`do_not_email\`); an archived sequence gives 409 \`sequence_archived\`.`,
      roles: WORKERS, params, body: enrollBody, idempotent: true,
      responses: {
        202: { description: 'Enrolled; the sequence runs in the background', schema: enrolledSchema },
        404: { description: `No such ${type} or sequence` },
        403: { description: `Wrong role, or \`not_owner\`: only the ${type}’s owner or a manager enrolls it` },
        409: { description: '`lead_closed`, `already_enrolled` (names the running workflow), `do_not_email`, `sequence_archived`, `sequence_not_published`' },
        422: { description: '`not_corporate`, `not_eligible` or `email_required`' },
      },
      async handler({ operation, user, params: { id }, body, requestId }) {
        const enrolled = await enroll(user, type, id, body?.sequenceId ?? null, operation, requestId);
        return { status: 202, body: enrolled, headers: { Location: base.replace(':id', id) } };
      },
    }),
    route({
      method: 'get', path: base, tag, summary: `The ${type}'s latest sequence: status and steps`,
      params,
      responses: { 200: { description: `The latest sequence of the ${type}`, schema: nurtureSchema }, 404: { description: `No such ${type}, or never enrolled (\`nurture_not_found\`)` } },
      async handler({ params: { id } }) {
        const { workflowId, runId } = await latestSequence(id);
        const state = await calls.query(temporal.workflow.getHandle(workflowId), getNurtureStateQuery);
        return { status: 200, body: view(workflowId, runId, type, id, state) };
      },
    }),
    route({
      method: 'post', path: `${base}/stop`, tag, summary: 'Stop the sequence; the remaining steps are recorded as skipped',
      roles: WORKERS, params, body: z.strictObject({ reason: z.enum(MANUAL_STOP_REASONS) }), idempotent: true,
      responses: { 200: { description: 'The stopped sequence', schema: nurtureSchema }, 403: { description: '`not_owner`' }, 404: { description: 'No such person or sequence' }, 409: { description: '`nurture_finished`' } },
      async handler({ operation, user, params: { id }, body, requestId }) {
        return update(user, id, requestId, 'stopped', stopNurtureUpdate, { reason: body.reason, by: user.id }, operation);
      },
    }),
    route({
      method: 'post', path: `${base}/pause`, tag, summary: 'Pause the sequence (owner or manager)',
      description: 'While paused no step fires. On resume, what was left of the current wait runs; later waits keep their full length.',
      roles: WORKERS, params, body: actor.optional(), idempotent: true,
      responses: { 200: { description: 'The paused sequence', schema: nurtureSchema }, 403: { description: '`not_owner`' }, 409: { description: '`nurture_already_paused` or `nurture_finished`' } },
      async handler({ operation, user, params: { id }, requestId }) {
        return update(user, id, requestId, 'paused', pauseNurtureUpdate, { by: user.id }, operation);
      },
    }),
    route({
      method: 'post', path: `${base}/resume`, tag, summary: 'Resume a paused sequence (owner or manager)',
      roles: WORKERS, params, body: actor.optional(), idempotent: true,
      responses: { 200: { description: 'The running sequence', schema: nurtureSchema }, 403: { description: '`not_owner`' }, 409: { description: '`nurture_not_paused` or `nurture_finished`' } },
      async handler({ operation, user, params: { id }, requestId }) {
        return update(user, id, requestId, 'resumed', resumeNurtureUpdate, { by: user.id }, operation);
      },
    }),
  ];
}

export function leadNurtureRoutes(deps: NurtureRoutesDeps): RouteSpec[] {
  return [...personSequenceRoutes(deps, 'lead'), ...personSequenceRoutes(deps, 'contact')];
}
