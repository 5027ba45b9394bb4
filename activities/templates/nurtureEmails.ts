/**
 * The nurture sequence's emails and call tasks, rendered with the lead's name and company.
 * Plain functions, so a copywriter's change is a diff in one file.
 */
import type { Lead } from '../../db/stores/leads';
import type { NurtureStepName } from '../../workflows/leadNurture.contract';

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const greetingName = (lead: Lead): string => lead.firstName?.trim() || `${lead.lastName}`;
const companyPhrase = (lead: Lead): string => (lead.companyName ? ` at ${lead.companyName}` : '');

function toHtml(paragraphs: string[]): string {
  return `<!doctype html><html><body style="font-family:sans-serif">${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('')}</body></html>`;
}

function email(subject: string, paragraphs: string[]): RenderedEmail {
  return { subject, text: paragraphs.join('\n\n'), html: toHtml(paragraphs) };
}

export function renderNurtureEmail(step: NurtureStepName, lead: Lead, ownerName: string): RenderedEmail {
  const name = greetingName(lead);
  switch (step) {
    case 'information_email':
      return email(`Contoso Home Security for ${lead.companyName ?? name}`, [
        `Dear ${name},`,
        `Thank you for speaking with us about ${lead.topic}. Contoso Home Security equips homes and offices in 11 large US cities with smart doorbells, smart thermostats, security systems, sensors, cameras and 24/7 monitoring plans.`,
        `Corporate customers${companyPhrase(lead)} get one account representative, volume pricing and a technical review of every installation before it goes live.`,
        `Kind regards,\n${ownerName}\nContoso Home Security`,
      ]);
    case 'follow_up_email':
      return email(`Any questions about Contoso Home Security, ${name}?`, [
        `Dear ${name},`,
        `A few days ago we sent you details about Contoso Home Security. Do you or your colleagues${companyPhrase(lead)} have any questions about ${lead.topic}?`,
        `Just reply to this email and I will get back to you the same day.`,
        `Kind regards,\n${ownerName}\nContoso Home Security`,
      ]);
    default:
      throw new Error(`step ${step} is not an email step`);
  }
}

export function describeNurtureCall(step: NurtureStepName, lead: Lead): { subject: string; body: string } {
  const who = `${[lead.firstName, lead.lastName].filter(Boolean).join(' ')}${lead.companyName ? ` (${lead.companyName})` : ''}`;
  switch (step) {
    case 'intro_call':
      return { subject: `Intro call: ${who}`, body: `Call to introduce Contoso Home Security and its products (topic: ${lead.topic}).` };
    case 'appointment_call':
      return { subject: `Appointment call: ${who}`, body: 'Call to get a meeting, to qualify or disqualify the lead.' };
    default:
      throw new Error(`step ${step} is not a call step`);
  }
}
