/**
 * The lead-nurture contract: everything the workflow and the API must agree on (ids, the versioned
 * cadence, messages, input and state types). Both sides import this module; nothing here does I/O.
 * Message name strings never change once shipped.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const nurtureWorkflowId = (leadId: string): string => `lead-nurture-${leadId}`;

export { NURTURE_STEPS } from '../domain/nurture';
export type { NurtureStepName } from '../domain/nurture';
import type { NurtureStepName } from '../domain/nurture';

export interface NurtureStepDefinition {
  step: NurtureStepName;
  title: string;
  activityType: 'phone_call' | 'email';
  /** Wait between the previous step's completion and this step (0 for the first step). */
  gapMs: number;
  gapLabel: string;
}

export interface NurtureCadence {
  version: number;
  steps: readonly NurtureStepDefinition[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * SPEC "Lead nurturing sequence". Running workflows replay against this definition: to change it,
 * add NURTURE_CADENCE_V2 beside it and choose it in the workflow behind `patched()`.
 */
export const NURTURE_CADENCE_V1: NurtureCadence = {
  version: 1,
  steps: [
    { step: 'intro_call', title: 'Intro phone call', activityType: 'phone_call', gapMs: 0, gapLabel: 'none' },
    { step: 'information_email', title: 'Information email', activityType: 'email', gapMs: DAY_MS, gapLabel: '1 day' },
    { step: 'follow_up_email', title: 'Follow-up email', activityType: 'email', gapMs: 3 * DAY_MS, gapLabel: '3 days' },
    { step: 'appointment_call', title: 'Appointment phone call', activityType: 'phone_call', gapMs: 2 * DAY_MS, gapLabel: '2 days' },
  ],
};

/** Reasons a person may give when stopping a sequence through the API. */
export const MANUAL_STOP_REASONS = ['replied', 'meeting_booked', 'unsubscribed', 'bounced', 'manual'] as const;
export type ManualStopReason = (typeof MANUAL_STOP_REASONS)[number];
/**
 * Closing the lead stops its sequence too; so does a step that cannot be performed at all (its
 * activity failed permanently: `step_failed`, with the failure on the state).
 */
export type NurtureStopReason = ManualStopReason | 'qualified' | 'disqualified' | 'step_failed';

/** A step whose activity failed permanently: the code is the failure's type. */
export interface NurtureFailure {
  step: NurtureStepName;
  code: string;
  message: string;
}

export type NurtureStatus = 'running' | 'paused' | 'completed' | 'stopped';
export type NurtureStepState = 'pending' | 'done' | 'skipped';

export interface LeadNurtureInput {
  leadId: string;
  ownerId: string;
  customerType: 'corporate' | 'consumer';
  enrolledBy: string;
}

export interface NurtureStepView {
  step: NurtureStepName;
  title: string;
  activityType: 'phone_call' | 'email';
  state: NurtureStepState;
  /** When the step fires (or fired); for later pending steps, the projection if nothing pauses. */
  dueAt: string | null;
  doneAt: string | null;
  /** The timeline activity the step wrote. */
  activityId: string | null;
}

export interface NurtureState {
  leadId: string;
  ownerId: string;
  cadenceVersion: number;
  status: NurtureStatus;
  steps: NurtureStepView[];
  /** The step being worked on or waited for; the last step once the sequence has ended. */
  currentStep: NurtureStepName | null;
  nextStepAt: string | null;
  pausedAt: string | null;
  pausedBy: string | null;
  /** While paused: what is left of the current gap, run in full on resume. */
  remainingGapMs: number | null;
  stopReason: NurtureStopReason | null;
  stoppedBy: string | null;
  /** Set when a step failed permanently (absent in runs started before it existed). */
  failure?: NurtureFailure | null;
  startedAt: string;
  endedAt: string | null;
}

export interface StopNurtureInput {
  reason: NurtureStopReason;
  /** User id, or the id of the process that stopped it. */
  by: string;
}

export interface PauseNurtureInput {
  by: string;
}

/** Codes the update validators reject with; the API maps them to 409. */
export const NURTURE_REJECTIONS = {
  finished: 'nurture_finished',
  alreadyPaused: 'nurture_already_paused',
  notPaused: 'nurture_not_paused',
  invalidReason: 'invalid_stop_reason',
} as const;

export const getNurtureStateQuery = defineQuery<NurtureState>('getNurtureState');
export const stopNurtureUpdate = defineUpdate<NurtureState, [StopNurtureInput]>('stopNurture');
export const pauseNurtureUpdate = defineUpdate<NurtureState, [PauseNurtureInput]>('pauseNurture');
export const resumeNurtureUpdate = defineUpdate<NurtureState, [PauseNurtureInput]>('resumeNurture');
/** Fire-and-forget stop for system events (lead qualified or disqualified): needs no running worker. */
export const stopNurtureSignal = defineSignal<[StopNurtureInput]>('stopNurtureSignal');

/** What the step activity reports back. */
export type NurtureStepResult =
  | { outcome: 'done'; activityId: string; ownerId: string }
  | { outcome: 'lead_closed'; reason: 'qualified' | 'disqualified' }
  /** The mail server refused the address permanently: the sequence stops as `bounced`. */
  | { outcome: 'bounced'; activityId: string };

export interface NurtureStepInput {
  leadId: string;
  step: NurtureStepName;
  stepIndex: number;
  title: string;
  activityType: 'phone_call' | 'email';
  dueAt: string;
}

export interface NurtureSkippedInput {
  leadId: string;
  steps: Array<{ step: NurtureStepName; stepIndex: number; dueAt: string | null }>;
  reason: NurtureStopReason;
}
