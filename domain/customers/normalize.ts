/**
 * Normalisations a match condition applies to both values before comparing them (SPEC "Match":
 * case, whitespace, punctuation, Unicode to ASCII, name order; plus phone digits and the
 * canonical e-mail form). Whatever order a rule lists them in, they run in one fixed order —
 * unicode, case, nameOrder, punctuation, whitespace, then phone/email/digits — so that a rule
 * means the same thing however it is written.
 */
export const NORMALIZATIONS = ['unicode', 'case', 'nameOrder', 'punctuation', 'whitespace', 'phone', 'email', 'digits'] as const;
export type Normalization = (typeof NORMALIZATIONS)[number];

let anyAscii: ((text: string) => string) | null = null;

/** any-ascii is an ES module: loaded once, before the first normalisation. */
export async function loadNormalizers(): Promise<void> {
  if (anyAscii) return;
  const mod = (await import('any-ascii')) as unknown as { default: (text: string) => string };
  anyAscii = mod.default;
}

function toAscii(text: string): string {
  if (!anyAscii) throw new Error('loadNormalizers() must run before Unicode normalisation');
  // Plain ASCII is the common case and needs no transliteration.
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 127) return anyAscii(text);
  return text;
}

/** "Last, First" reads as "First Last"; then token order stops mattering ("Moss Abbie" = "Abbie Moss"). */
function nameOrder(text: string): string {
  const comma = text.indexOf(',');
  const reordered = comma >= 0 ? `${text.slice(comma + 1)} ${text.slice(0, comma)}` : text;
  return reordered.split(/\s+/).filter(Boolean).sort().join(' ');
}

/** Digits of the number itself: extensions ("x9509", "ext. 12") go, a US country code goes. */
export function phoneDigits(text: string): string {
  const main = text.toLowerCase().split(/\s*(?:x|ext\.?|extension|#)\s*\d*\s*$/)[0];
  let digits = main.replace(/\D/g, '');
  if (digits.length === 11 && digits.startsWith('1')) digits = digits.slice(1);
  return digits;
}

const GMAIL = new Set(['gmail.com', 'googlemail.com']);

/** Lower case, no "+tag"; Gmail ignores dots in the local part. */
export function canonicalEmail(text: string): string {
  const email = text.trim().toLowerCase();
  const at = email.lastIndexOf('@');
  if (at <= 0) return email;
  let local = email.slice(0, at).split('+')[0];
  let domain = email.slice(at + 1);
  if (GMAIL.has(domain)) {
    local = local.replace(/\./g, '');
    domain = 'gmail.com';
  }
  return `${local}@${domain}`;
}

export function normalize(value: string | null | undefined, steps: readonly Normalization[]): string | null {
  if (value === null || value === undefined) return null;
  let text = String(value);
  const has = (step: Normalization) => steps.includes(step);
  if (has('unicode')) text = toAscii(text);
  if (has('case')) text = text.toLowerCase();
  if (has('nameOrder')) text = nameOrder(text);
  if (has('punctuation')) text = text.replace(/['’.]/g, '').replace(/[^\p{L}\p{N}\s]+/gu, ' ');
  if (has('whitespace') || has('punctuation') || has('nameOrder')) text = text.trim().replace(/\s+/g, ' ');
  if (has('nameOrder') && has('punctuation')) text = nameOrder(text);
  if (has('phone')) text = phoneDigits(text);
  if (has('email')) text = canonicalEmail(text);
  if (has('digits')) text = text.replace(/\D/g, '');
  return text === '' ? null : text;
}
