/**
 * The API's side of sequences that several routes share (issue 9): enrolling a person in the
 * latest published version of a sequence, and stopping a person's running sequence when something
 * happens elsewhere (a reply, an unsubscribe, a meeting booked, a closed lead).
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { personName } from '../../db/stores/people';
import { SequenceStore, type PersonType } from '../../db/stores/sequences';
import type { User } from '../../db/stores/users';
import { ConflictError } from '../../domain/rejection';
import { enrollmentRefusal } from '../../domain/sequences/eligibility';
import { DEFAULT_WORKING_HOURS } from '../../domain/sequences/time';
import type { StopNurtureInput } from '../../workflows/leadNurture.contract';
import { stopNurtureSignal } from '../../workflows/leadNurture.contract';
import { enrollmentStart, enrollmentWorkflowId } from '../../workflows/sequenceEnrollment.contract';
import type { sequenceEnrollmentWorkflow } from '../../workflows/sequenceEnrollment';
import { assertOwnerOrSupervisor } from '../auth';
import type { Operation } from '../idempotency';
import { workflowCalls } from '../workflowCalls';

export interface Enrolled {
  workflowId: string;
  runId: string;
  leadId: string | null;
  person: { type: PersonType; id: string };
  sequenceId: string;
  sequenceVersion: number;
  status: 'running';
}

export interface EnrollDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
}

export function sequenceEnrollment({ db, temporal, taskQueue }: EnrollDeps) {
  const sequences = new SequenceStore(db);
  const calls = workflowCalls(temporal);

  /** Starts `<type>-nurture-<id>` on the sequence's latest version (the default sequence when none is named). */
  async function enroll(user: User, type: PersonType, personId: string, sequenceId: string | null, operation: Operation, requestId: string): Promise<Enrolled> {
    // One round trip before the start, one after: the person, the owner's calendar, the holidays and the version together.
    const { person, owner, holidays, version } = await sequences.enrollmentContext(type, personId, sequenceId, new Date(Date.now() - 86_400_000).toISOString().slice(0, 10));
    assertOwnerOrSupervisor(user, person.ownerId, type);
    const refusal = enrollmentRefusal(person, version);
    if (refusal) throw refusal;
    const recipientCalendar = { zone: person.timeZone ?? owner.zone, hours: DEFAULT_WORKING_HOURS, holidays };
    const ownerCalendar = { zone: owner.zone, hours: owner.hours, holidays };
    const start = enrollmentStart(
      { type, id: person.id, ownerId: person.ownerId, customerType: person.customerType, name: personName(person), company: person.company },
      version, { recipient: recipientCalendar, owner: ownerCalendar }, user.id,
    );
    const { workflowId } = start;
    const enrolled = (runId: string): Enrolled => ({
      workflowId, runId, leadId: type === 'lead' ? person.id : null, person: { type, id: person.id }, sequenceId: version.sequenceId, sequenceVersion: version.version, status: 'running',
    });
    let runId: string;
    try {
      const handle = await calls.start<typeof sequenceEnrollmentWorkflow>('sequenceEnrollmentWorkflow', {
        workflowId, taskQueue, args: [start.input],
        workflowIdConflictPolicy: 'FAIL', workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        // Which request started it: a rerun of the same request (its answer was lost) is told it did.
        memo: { operation: operation.operationKey },
        staticSummary: start.staticSummary,
        typedSearchAttributes: start.typedSearchAttributes,
      });
      runId = handle.firstExecutionRunId;
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        const running = await calls.describe(workflowId);
        if (running && running.memo?.operation === operation.operationKey) return enrolled(running.runId);
        throw new ConflictError('already_enrolled', `${type} ${person.id} is already in a running sequence (${workflowId})`, undefined, { workflowId, runId: running?.runId });
      }
      throw error;
    }
    await sequences.recordEnrollmentAudited(
      { runId, workflowId, sequenceId: version.sequenceId, sequenceVersion: version.version, personType: type, personId: person.id, ownerId: person.ownerId, enrolledBy: user.id },
      { actorId: user.id, requestId },
    );
    return enrolled(runId);
  }

  return { enroll };
}

/**
 * Stops the person's running sequence for a reason that happened elsewhere. A signal needs no
 * running worker; when none is running (never enrolled, or already ended) there is nothing to stop.
 */
export async function stopSequenceOfPerson(temporal: Client, log: Logger, type: PersonType, personId: string, stop: StopNurtureInput, runId?: string): Promise<boolean> {
  try {
    const handle = temporal.workflow.getHandle(enrollmentWorkflowId(type, personId), runId);
    await handle.signal(stopNurtureSignal, stop);
    return true;
  } catch (error) {
    const name = (error as Error).name;
    if (name !== 'WorkflowNotFoundError') log.warn({ err: error, person: { type, personId } }, 'could not signal the sequence; it stops at its next step if the person is closed');
    return false;
  }
}
