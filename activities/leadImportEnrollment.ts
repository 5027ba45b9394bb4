/**
 * One page of a lead import's enrollment (issue 9): each created lead of the page is judged like
 * `POST /leads/:id/nurture` (eligibility, open, email, do-not-email) and its enrollment started
 * with the version pinned when the import was accepted. Idempotent: the start's memo names the
 * import, so a retried page counts the runs it started before as enrolled and starts none twice.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Logger } from '../config/logger';
import type { Db } from '../db/knex';
import { LeadImportStore } from '../db/stores/leadImports';
import { personName } from '../db/stores/people';
import { DEFAULT_WORKING_HOURS } from '../domain/sequences/time';
import { SequenceStore } from '../db/stores/sequences';
import { Rejection } from '../domain/rejection';
import { enrollmentRefusal } from '../domain/sequences/eligibility';
import type { EnrollPageInput, EnrollPageResult } from '../workflows/leadImportEnrollment.contract';
import { enrollmentStart } from '../workflows/sequenceEnrollment.contract';

export function createLeadImportEnrollmentActivities({ db, log }: { db: Db; log: Logger }) {
  const imports = new LeadImportStore(db);
  const sequences = new SequenceStore(db);

  async function enrollImportPage(input: EnrollPageInput): Promise<EnrollPageResult> {
    const { client, info } = Context.current();
    if (!(await sequences.version(input.sequenceId, input.sequenceVersion))) {
      throw ApplicationFailure.nonRetryable(`sequence ${input.sequenceId} v${input.sequenceVersion} does not exist`, 'sequence_not_found');
    }
    const ids = await imports.createdLeadIds(input.importId, { limit: input.limit, offset: input.offset });
    const result: EnrollPageResult = { read: ids.length, enrolled: 0, refused: {} };
    const refuse = (code: string) => { result.refused[code] = (result.refused[code] ?? 0) + 1; };
    const memo = { operation: `lead-import:${input.importId}` };
    const today = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    for (const [i, leadId] of ids.entries()) {
      Context.current().heartbeat({ offset: input.offset + i });
      // The same one query the API's enrollment reads, with the version the import pinned.
      let context;
      try {
        context = await sequences.enrollmentContext('lead', leadId, input.sequenceId, today, input.sequenceVersion);
      } catch (error) {
        if (!(error instanceof Rejection)) throw error;
        refuse(error.code);
        continue;
      }
      const { person, owner, holidays, version } = context;
      const refusal = enrollmentRefusal(person, version);
      if (refusal) {
        refuse(refusal instanceof Rejection ? refusal.code : 'refused');
        continue;
      }
      const enrolledBy = input.enrolledBy ?? person.ownerId;
      const start = enrollmentStart(
        { type: 'lead', id: person.id, ownerId: person.ownerId, customerType: person.customerType, name: personName(person), company: person.company },
        version, { recipient: { zone: person.timeZone ?? owner.zone, hours: DEFAULT_WORKING_HOURS, holidays }, owner: { zone: owner.zone, hours: owner.hours, holidays } }, enrolledBy,
      );
      try {
        const handle = await client.workflow.start('sequenceEnrollmentWorkflow', {
          workflowId: start.workflowId, taskQueue: info.taskQueue, args: [start.input], memo,
          workflowIdConflictPolicy: 'FAIL', workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          staticSummary: start.staticSummary, typedSearchAttributes: start.typedSearchAttributes,
        });
        await sequences.recordEnrollment({
          runId: handle.firstExecutionRunId, workflowId: start.workflowId, sequenceId: version.sequenceId, sequenceVersion: version.version,
          personType: 'lead', personId: person.id, ownerId: person.ownerId, enrolledBy,
        });
        result.enrolled += 1;
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        const running = await client.workflow.getHandle(start.workflowId).describe();
        if (running.memo?.operation === memo.operation) result.enrolled += 1;
        else refuse('already_enrolled');
      }
    }
    log.info({ importId: input.importId, offset: input.offset, ...result }, 'lead import page enrolled');
    return result;
  }

  return { enrollImportPage };
}

export type LeadImportEnrollmentActivities = ReturnType<typeof createLeadImportEnrollmentActivities>;
