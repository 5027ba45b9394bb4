/**
 * The sequence-enrollment contract (issue 9): one person (a lead or a contact) running one pinned
 * version of a sequence defined as data. It answers the same query and updates as the lead-nurture
 * workflow it replaces for new enrollments, so the API, ops and the runs started before sequences
 * were data are all served through one set of messages; its state is a superset of theirs.
 *
 * Workflow ids: `lead-nurture-<leadId>` and `contact-nurture-<contactId>`. A person is in at most
 * one running sequence (as in HubSpot), so the id names the person and ops find it from the person.
 */
import { defineSignal } from '@temporalio/workflow';
import type { SequenceDefinition, StepType } from '../domain/sequences/definition';
import type { WorkCalendar } from '../domain/sequences/time';
import type { NurtureFailure, NurtureState, NurtureStepState, NurtureStopReason } from './leadNurture.contract';
import { CustomerTypeKey, LeadIdKey, NurtureStatusKey, NurtureStepKey, OwnerIdKey, SequenceIdKey, SequenceVersionKey } from './searchAttributes';

export type PersonType = 'lead' | 'contact';

export const enrollmentWorkflowId = (type: PersonType, personId: string): string => `${type}-nurture-${personId}`;

export interface EnrollmentPerson {
  type: PersonType;
  id: string;
}

export interface SequenceEnrollmentInput {
  person: EnrollmentPerson;
  ownerId: string;
  customerType: 'corporate' | 'consumer';
  enrolledBy: string;
  /** The pinned version: the workflow never reads a definition that may have changed. */
  sequence: SequenceDefinition;
  /** The recipient's calendar (waits and send windows) and the owner's (when a call or task is due). */
  recipientCalendar: WorkCalendar;
  ownerCalendar: WorkCalendar;
}

/** Why a sequence may stop beyond the lead-nurture reasons. */
export type SequenceStopReason = NurtureStopReason;

export interface SequenceStepView {
  step: string;
  title: string;
  activityType: StepType;
  state: NurtureStepState;
  dueAt: string | null;
  doneAt: string | null;
  activityId: string | null;
  /** Why a step was skipped while the sequence went on (e.g. `do_not_email`). */
  skipReason?: string | null;
}

/** The lead-nurture state, generalised: any step names, the person, the pinned version. */
export interface SequenceState extends Omit<NurtureState, 'steps' | 'currentStep' | 'failure' | 'leadId'> {
  leadId: string | null;
  person: EnrollmentPerson;
  sequenceId: string;
  sequenceVersion: number;
  sequenceName: string;
  steps: SequenceStepView[];
  currentStep: string | null;
  failure?: (Omit<NurtureFailure, 'step'> & { step: string }) | null;
}

/** Reassign the enrollment's future steps to another rep (a rep leaves). */
export interface ReassignEnrollmentInput {
  ownerId: string;
  ownerCalendar: WorkCalendar;
  by: string;
}
export const reassignEnrollmentSignal = defineSignal<[ReassignEnrollmentInput]>('reassignEnrollment');

/**
 * Bulk pause and resume (a manager's filter, run as a Temporal batch operation): signals, so a
 * batch needs no answer from each run; one that is finished, already paused (or not paused) ignores it.
 */
export const pauseEnrollmentSignal = defineSignal<[{ by: string }]>('pauseEnrollment');
export const resumeEnrollmentSignal = defineSignal<[{ by: string }]>('resumeEnrollment');

export interface SequenceStepInput {
  person: EnrollmentPerson;
  sequenceId: string;
  sequenceVersion: number;
  step: string;
  stepIndex: number;
  /** The pinned step, templates included. */
  definition: SequenceDefinition['steps'][number];
  /** When the step's activity is due: the end of the owner's working day for calls and tasks. */
  dueAt: string;
  /** When the step fired, by the workflow's clock. */
  firedAt: string;
  ownerId: string;
  enrolledBy: string;
  /** This is the last step: its record also completes the enrollment. */
  last: boolean;
}

export type SequenceStepResult =
  | { outcome: 'done'; activityId: string; ownerId: string }
  | { outcome: 'person_closed'; reason: 'qualified' | 'disqualified' }
  | { outcome: 'bounced'; activityId: string }
  /** The person may not be emailed (unsubscribed): the step is skipped, the sequence goes on. */
  | { outcome: 'skipped'; reason: 'do_not_email' };

export interface SequenceSkippedInput {
  person: EnrollmentPerson;
  sequenceId: string;
  sequenceVersion: number;
  steps: Array<{ step: string; stepIndex: number; dueAt: string | null }>;
  reason: SequenceStopReason;
}

/** What starting an enrollment takes, the same from the API and from a lead import's enrollment. */
export function enrollmentStart(
  person: { type: PersonType; id: string; ownerId: string; customerType: 'corporate' | 'consumer'; name: string; company: string | null },
  sequence: SequenceDefinition,
  calendars: { recipient: WorkCalendar; owner: WorkCalendar },
  enrolledBy: string,
) {
  const input: SequenceEnrollmentInput = {
    person: { type: person.type, id: person.id }, ownerId: person.ownerId, customerType: person.customerType, enrolledBy,
    sequence: { sequenceId: sequence.sequenceId, version: sequence.version, name: sequence.name, eligibility: sequence.eligibility, steps: sequence.steps },
    recipientCalendar: calendars.recipient, ownerCalendar: calendars.owner,
  };
  return {
    workflowId: enrollmentWorkflowId(person.type, person.id),
    input,
    staticSummary: `${sequence.name} v${sequence.version}: ${person.name}${person.company ? ` (${person.company})` : ''}`,
    typedSearchAttributes: [
      ...(person.type === 'lead' ? [{ key: LeadIdKey, value: person.id }] : []),
      { key: OwnerIdKey, value: person.ownerId },
      { key: CustomerTypeKey, value: person.customerType },
      { key: SequenceIdKey, value: sequence.sequenceId },
      { key: SequenceVersionKey, value: sequence.version },
      { key: NurtureStatusKey, value: 'running' },
      { key: NurtureStepKey, value: sequence.steps[0].key },
    ],
  };
}
