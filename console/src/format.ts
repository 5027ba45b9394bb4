/** How amounts, dates and codes read on screen (US dollars; the browser's time zone). */
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });

export const formatCents = (cents: number | null | undefined): string => (cents === null || cents === undefined ? '—' : money.format(cents / 100));
export const formatDateTime = (iso: string | null | undefined): string => (iso ? dateTime.format(new Date(iso)) : '—');
/** A calendar date (YYYY-MM-DD) as it is, whatever the time zone. */
export const formatDate = (date: string | null | undefined): string => (date ? dateOnly.format(new Date(`${date}T00:00:00Z`)) : '—');
/** `tech_check` → `Tech check`. */
export const humanize = (code: string | null | undefined): string => (code ? code.charAt(0).toUpperCase() + code.slice(1).replace(/_/g, ' ') : '—');

export const STAGE_NAMES: Record<string, string> = { qualify: 'Qualify', develop: 'Develop', propose: 'Propose', tech_check: 'Tech Check', close: 'Close', won: 'Won', lost: 'Lost' };

/** "25,000.00", "$25000" or "25000" → 2500000 cents; null when it is not an amount. */
export function parseDollars(text: string): number | null {
  const cleaned = text.replace(/[$,\s]/g, '');
  if (!/^\d+(\.\d{1,2})?$/.test(cleaned)) return null;
  const [whole, fraction = ''] = cleaned.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

/** An <input type="datetime-local"> value for an instant, in the browser's time zone. */
export function toLocalInput(date: Date): string {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

export const fromLocalInput = (value: string): string => new Date(value).toISOString();
