/**
 * A sequence, as data (issue 9): ordered steps, each a phone call, an email, a task or an
 * appointment proposal, each after a wait. A published version is immutable; a running enrollment
 * carries its version in its workflow input, so a later edit never reaches it.
 *
 * Templates take merge fields in double braces (`{{firstName}}`); the list is closed, so a typo is
 * refused when the sequence is saved, not discovered when a customer gets `{{frist}}`.
 */
import type { Wait } from './time';

export const STEP_TYPES = ['phone_call', 'email', 'task', 'appointment'] as const;
export type StepType = (typeof STEP_TYPES)[number];

export interface SequenceStep {
  /** Unique in the sequence: `[a-z][a-z0-9_]*`; the step's name in the workflow state and records. */
  key: string;
  type: StepType;
  /** What a rep sees in the sequence and the Web UI. */
  title: string;
  /** Before this step: from the enrollment (first step) or the previous step's completion. */
  wait: Wait;
  /** Emails only: send inside the recipient's working hours, moved to the next window otherwise. */
  sendWindow: boolean;
  /** The email's subject or the activity's subject (a template). */
  subject: string;
  /** The email's text or the activity's description (a template). */
  body: string;
}

export interface SequenceEligibility {
  /** Who may be enrolled; the seeded sequence takes corporate people only (SPEC). */
  customerTypes: Array<'corporate' | 'consumer'>;
}

/** What a version pins: everything the workflow needs to run it, and nothing it must read later. */
export interface SequenceDefinition {
  sequenceId: string;
  version: number;
  name: string;
  eligibility: SequenceEligibility;
  steps: SequenceStep[];
}

export const MERGE_FIELDS = ['firstName', 'lastName', 'fullName', 'company', 'topic', 'ownerName', 'ownerSignature'] as const;
export type MergeField = (typeof MERGE_FIELDS)[number];
export type MergeValues = Record<MergeField, string>;

const FIELD = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

/** The merge fields a template names that do not exist. */
export function unknownMergeFields(template: string): string[] {
  const unknown = new Set<string>();
  for (const match of template.matchAll(FIELD)) {
    if (!(MERGE_FIELDS as readonly string[]).includes(match[1])) unknown.add(match[1]);
  }
  return [...unknown];
}

export function renderTemplate(template: string, values: MergeValues): string {
  return template.replace(FIELD, (whole, name: string) => ((MERGE_FIELDS as readonly string[]).includes(name) ? values[name as MergeField] : whole));
}

/** Most steps one sequence may have: enough for any cadence, small enough for one workflow history. */
export const MAX_STEPS = 30;

/** The seeded sequence's id: fixed, so docs, tests and ops can name it. */
export const DEFAULT_SEQUENCE_ID = '00000000-0000-4000-8000-00000000a001';

/**
 * Version 1 of the default sequence, seeded by a migration: never edit it (publish a new version
 * through the API instead).
 *
 * SPEC "Lead nurturing sequence": intro call; +1 day information email; +3 days follow-up email;
 * +2 days appointment call. Calendar days and no send window, so its gaps stay exactly 1, 3 and 2
 * days, as the sequence that ran before sequences were data.
 */
export const DEFAULT_SEQUENCE_STEPS: SequenceStep[] = [
  {
    key: 'intro_call', type: 'phone_call', title: 'Intro phone call', wait: { amount: 0, unit: 'calendar_days' }, sendWindow: false,
    subject: 'Intro call: {{fullName}} ({{company}})',
    body: 'Call to introduce Contoso Home Security and its products (topic: {{topic}}).',
  },
  {
    key: 'information_email', type: 'email', title: 'Information email', wait: { amount: 1, unit: 'calendar_days' }, sendWindow: false,
    subject: 'Contoso Home Security for {{company}}',
    body: [
      'Dear {{firstName}},',
      'Thank you for speaking with us about {{topic}}. Contoso Home Security equips homes and offices in 11 large US cities with smart doorbells, smart thermostats, security systems, sensors, cameras and 24/7 monitoring plans.',
      'Corporate customers get one account representative, volume pricing and a technical review of every installation before it goes live.',
      'Kind regards,\n{{ownerSignature}}',
    ].join('\n\n'),
  },
  {
    key: 'follow_up_email', type: 'email', title: 'Follow-up email', wait: { amount: 3, unit: 'calendar_days' }, sendWindow: false,
    subject: 'Any questions about Contoso Home Security, {{firstName}}?',
    body: [
      'Dear {{firstName}},',
      'A few days ago we sent you details about Contoso Home Security. Do you or your colleagues at {{company}} have any questions about {{topic}}?',
      'Just reply to this email and I will get back to you the same day.',
      'Kind regards,\n{{ownerSignature}}',
    ].join('\n\n'),
  },
  {
    key: 'appointment_call', type: 'phone_call', title: 'Appointment phone call', wait: { amount: 2, unit: 'calendar_days' }, sendWindow: false,
    subject: 'Appointment call: {{fullName}} ({{company}})',
    body: 'Call to get a meeting, to qualify or disqualify the lead.',
  },
];
