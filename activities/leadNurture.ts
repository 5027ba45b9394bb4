/**
 * The lead-nurture sequence's side effects. Each is idempotent: the timeline row of a step is keyed
 * by workflow id + run + step, the email is sent only while that row is not marked sent, and the
 * step record is an upsert. A retry after a crash therefore finishes the step instead of repeating it.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { currentExecution } from './lib/execution';
import type { Logger } from '../config/logger';
import type { Db } from '../db/knex';
import { TimelineActivityStore } from '../db/stores/timelineActivities';
import { LeadStore } from '../db/stores/leads';
import { NurtureStepStore } from '../db/stores/nurtureSteps';
import { UserStore } from '../db/stores/users';
import type { NurtureSkippedInput, NurtureStepInput, NurtureStepResult } from '../workflows/leadNurture.contract';
import { PermanentMailError, type Mailer } from './mailer';
import { describeNurtureCall, renderNurtureEmail } from './templates/nurtureEmails';

export interface LeadNurtureDeps {
  db: Db;
  mailer: Mailer;
  log: Logger;
}

export function createLeadNurtureActivities({ db, mailer, log }: LeadNurtureDeps) {
  const leads = new LeadStore(db);
  const timeline = new TimelineActivityStore(db);
  const steps = new NurtureStepStore(db);
  const users = new UserStore(db);

  async function performNurtureStep(input: NurtureStepInput): Promise<NurtureStepResult> {
    const { workflowId, runId } = currentExecution();
    const key = `${workflowId}/${runId}/${input.step}`;
    const lead = await leads.get(input.leadId);
    if (!lead) throw ApplicationFailure.nonRetryable(`lead ${input.leadId} no longer exists`, 'lead_not_found');
    const existing = await db('activities').where({ idempotency_key: key }).first('id');
    if (!existing && lead.status !== 'open') return { outcome: 'lead_closed', reason: lead.status as 'qualified' | 'disqualified' };

    const regarding = { type: 'lead', id: lead.id };
    let written;
    if (input.activityType === 'phone_call') {
      const call = describeNurtureCall(input.step, lead);
      written = await timeline.createForStep(key, { type: 'phone_call', regarding, ...call, dueAt: new Date().toISOString(), ownerId: lead.ownerId, workflowId });
    } else {
      if (!lead.email) throw ApplicationFailure.nonRetryable(`lead ${lead.id} has no email address`, 'email_required');
      const owner = await users.get(lead.ownerId);
      const email = renderNurtureEmail(input.step, lead, owner?.name ?? 'Your Contoso representative');
      written = await timeline.createForStep(key, {
        type: 'email', regarding, subject: email.subject, body: email.text, dueAt: new Date().toISOString(),
        ownerId: lead.ownerId, toAddress: lead.email, workflowId,
      });
      if (!written.activity.sentAt) {
        const messageId = `<${key.replace(/[^A-Za-z0-9.-]/g, '.')}@sales-process.contoso>`;
        try {
          await mailer.send({ to: lead.email, ...email, messageId });
        } catch (error) {
          if (!(error instanceof PermanentMailError)) throw error;
          log.warn({ leadId: lead.id, step: input.step, err: error }, 'nurture email bounced');
          await timeline.update(written.activity.id, { status: 'canceled', outcome: error.message }, { actor: { type: 'workflow', id: workflowId } }).catch(() => undefined);
          return { outcome: 'bounced', activityId: written.activity.id };
        }
        await timeline.markEmailSent(written.activity.id, messageId, workflowId);
      }
    }
    await steps.record([{
      workflowId, runId, leadId: lead.id, step: input.step, stepIndex: input.stepIndex, state: 'done',
      dueAt: input.dueAt, doneAt: new Date().toISOString(), activityId: written.activity.id, skipReason: null,
    }]);
    log.info({ leadId: lead.id, step: input.step, activityId: written.activity.id, firstWrite: written.created }, 'nurture step done');
    return { outcome: 'done', activityId: written.activity.id, ownerId: lead.ownerId };
  }

  async function recordSkippedNurtureSteps(input: NurtureSkippedInput): Promise<void> {
    const { workflowId, runId } = currentExecution();
    await steps.record(input.steps.map((s) => ({
      workflowId, runId, leadId: input.leadId, step: s.step, stepIndex: s.stepIndex, state: 'skipped' as const,
      dueAt: s.dueAt, doneAt: null, activityId: null, skipReason: input.reason,
    })));
  }

  return { performNurtureStep, recordSkippedNurtureSteps };
}

export type LeadNurtureActivities = ReturnType<typeof createLeadNurtureActivities>;
