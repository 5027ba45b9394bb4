/**
 * A sequence's side effects (issue 9). Idempotent like the lead-nurture steps: the timeline row of
 * a step is keyed by workflow id + run + step, the email is sent only while that row is not marked
 * sent, the step record and the enrollment record are upserts. A retry after a crash finishes the
 * step instead of repeating it.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { currentExecution } from './lib/execution';
import type { Logger } from '../config/logger';
import type { Db } from '../db/knex';
import { CalendarStore } from '../db/stores/calendars';
import { NurtureStepStore } from '../db/stores/nurtureSteps';
import { PersonStore, personName, type Person } from '../db/stores/people';
import { serviceSecret } from '../db/stores/secrets';
import { SequenceStore } from '../db/stores/sequences';
import { TimelineActivityStore } from '../db/stores/timelineActivities';
import { renderTemplate, type MergeValues } from '../domain/sequences/definition';
import { unsubscribeToken } from '../domain/sequences/links';
import type { SequenceSkippedInput, SequenceStepInput, SequenceStepResult } from '../workflows/sequenceEnrollment.contract';
import { PermanentMailError, type Mailer } from './mailer';

export interface SequenceEnrollmentDeps {
  db: Db;
  mailer: Mailer;
  log: Logger;
  /** Where people follow links from their email (PUBLIC_URL, or the dev stack's API address). */
  publicUrl: string;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The Message-ID of a step's email: stable per run and step, and how a reply finds its enrollment. */
export const stepMessageId = (key: string): string => `<${key.replace(/[^A-Za-z0-9.-]/g, '.')}@sales-process.contoso>`;

export function createSequenceEnrollmentActivities({ db, mailer, log, publicUrl }: SequenceEnrollmentDeps) {
  const people = new PersonStore(db);
  const timeline = new TimelineActivityStore(db);
  const steps = new NurtureStepStore(db);
  const sequences = new SequenceStore(db);
  const calendars = new CalendarStore(db);
  let linkSecret: Promise<string> | null = null;

  async function mergeValues(person: Person, ownerId: string): Promise<MergeValues> {
    const owner = await calendars.user(ownerId).catch(() => null);
    const ownerName = owner?.name ?? 'Your Contoso representative';
    return {
      firstName: person.firstName?.trim() || person.lastName,
      lastName: person.lastName,
      fullName: personName(person),
      company: person.company ?? 'your company',
      topic: person.topic ?? 'home security',
      ownerName,
      ownerSignature: owner?.signature ?? `${ownerName}\nContoso Home Security`,
    };
  }

  async function unsubscribeUrl(person: Person): Promise<string> {
    linkSecret ??= serviceSecret(db, 'mail_links').catch((error) => {
      linkSecret = null;
      throw error;
    });
    return `${publicUrl.replace(/\/+$/, '')}/unsubscribe/${unsubscribeToken(await linkSecret, person)}`;
  }

  async function record(input: SequenceStepInput, state: 'done' | 'skipped', activityId: string | null, skipReason: string | null): Promise<void> {
    const { workflowId, runId } = currentExecution();
    await steps.record([{
      workflowId, runId, leadId: input.person.type === 'lead' ? input.person.id : null, contactId: input.person.type === 'contact' ? input.person.id : null,
      sequenceId: input.sequenceId, sequenceVersion: input.sequenceVersion,
      step: input.step, stepIndex: input.stepIndex, state, dueAt: input.dueAt, doneAt: state === 'done' ? new Date().toISOString() : null, activityId, skipReason,
    }]);
    if (input.last) await sequences.endEnrollment(runId, 'completed', null);
  }

  async function performSequenceStep(input: SequenceStepInput): Promise<SequenceStepResult> {
    const { workflowId, runId } = currentExecution();
    const key = `${workflowId}/${runId}/${input.step}`;
    const person = await people.get(input.person.type, input.person.id);
    if (!person) throw ApplicationFailure.nonRetryable(`${input.person.type} ${input.person.id} no longer exists`, 'person_not_found');
    // Heals an enrollment row the API could not write (it died right after the start).
    await sequences.recordEnrollment({
      runId, workflowId, sequenceId: input.sequenceId, sequenceVersion: input.sequenceVersion,
      personType: person.type, personId: person.id, ownerId: person.ownerId, enrolledBy: input.enrolledBy,
    });
    const existing = await db('activities').where({ idempotency_key: key }).first('id');
    if (!existing && person.status !== 'open') return { outcome: 'person_closed', reason: person.status };

    const def = input.definition;
    const regarding = { type: person.type, id: person.id };
    const values = await mergeValues(person, person.ownerId);
    const subject = renderTemplate(def.subject, values);
    const body = renderTemplate(def.body, values);
    let written;
    if (def.type !== 'email') {
      written = await timeline.createForStep(key, { type: def.type, regarding, subject, body, dueAt: input.dueAt, ownerId: person.ownerId, workflowId });
    } else {
      if (!existing && person.doNotEmailAt) {
        await record(input, 'skipped', null, 'do_not_email');
        return { outcome: 'skipped', reason: 'do_not_email' };
      }
      if (!person.email) throw ApplicationFailure.nonRetryable(`${person.type} ${person.id} has no email address`, 'email_required');
      const link = await unsubscribeUrl(person);
      const text = `${body}\n\n--\nTo stop receiving these emails: ${link}`;
      const html = `<!doctype html><html><body style="font-family:sans-serif">${body.split(/\n{2,}/).map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`).join('')}`
        + `<p style="font-size:small;color:#666"><a href="${escapeHtml(link)}">Unsubscribe</a></p></body></html>`;
      written = await timeline.createForStep(key, { type: 'email', regarding, subject, body: text, dueAt: input.dueAt, ownerId: person.ownerId, toAddress: person.email, workflowId });
      if (!written.activity.sentAt) {
        const messageId = stepMessageId(key);
        try {
          await mailer.send({ to: person.email, subject, text, html, messageId, headers: { 'List-Unsubscribe': `<${link}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } });
        } catch (error) {
          if (!(error instanceof PermanentMailError)) throw error;
          log.warn({ person: regarding, step: input.step, err: error }, 'sequence email bounced');
          await timeline.update(written.activity.id, { status: 'canceled', outcome: error.message }, { actor: { type: 'workflow', id: workflowId } }).catch(() => undefined);
          return { outcome: 'bounced', activityId: written.activity.id };
        }
        await timeline.markEmailSent(written.activity.id, messageId, workflowId);
      }
    }
    await record(input, 'done', written.activity.id, null);
    log.info({ person: regarding, step: input.step, activityId: written.activity.id, firstWrite: written.created }, 'sequence step done');
    return { outcome: 'done', activityId: written.activity.id, ownerId: person.ownerId };
  }

  /** Records the steps a stop skipped and ends the enrollment with the stop's reason. */
  async function endSequenceEnrollment(input: SequenceSkippedInput): Promise<void> {
    const { workflowId, runId } = currentExecution();
    await steps.record(input.steps.map((s) => ({
      workflowId, runId, leadId: input.person.type === 'lead' ? input.person.id : null, contactId: input.person.type === 'contact' ? input.person.id : null,
      sequenceId: input.sequenceId, sequenceVersion: input.sequenceVersion,
      step: s.step, stepIndex: s.stepIndex, state: 'skipped' as const, dueAt: s.dueAt, doneAt: null, activityId: null, skipReason: input.reason,
    })));
    await sequences.endEnrollment(runId, 'stopped', input.reason);
  }

  return { performSequenceStep, endSequenceEnrollment };
}

export type SequenceEnrollmentActivities = ReturnType<typeof createSequenceEnrollmentActivities>;
