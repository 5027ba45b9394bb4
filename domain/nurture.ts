/** The lead-nurture sequence's steps, in order (SPEC: call, information email, follow-up email, appointment call). */
export const NURTURE_STEPS = ['intro_call', 'information_email', 'follow_up_email', 'appointment_call'] as const;
export type NurtureStepName = (typeof NURTURE_STEPS)[number];
