/**
 * Signed unsubscribe links (issue 9). The token names the person and carries an HMAC of that name,
 * so a link works without a login, cannot be forged for another person, and never expires (a
 * person may unsubscribe from a year-old email).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface LinkedPerson {
  type: 'lead' | 'contact';
  id: string;
}

const mac = (secret: string, payload: string): string => createHmac('sha256', secret).update(payload).digest('base64url');

export function unsubscribeToken(secret: string, person: LinkedPerson): string {
  const payload = Buffer.from(`${person.type}:${person.id}`).toString('base64url');
  return `${payload}.${mac(secret, payload)}`;
}

/** The person a token names, or null when it is malformed or its signature does not match. */
export function verifyUnsubscribeToken(secret: string, token: string): LinkedPerson | null {
  const [payload, signature, ...rest] = token.split('.');
  if (!payload || !signature || rest.length > 0 || payload.length > 200) return null;
  const expected = Buffer.from(mac(secret, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  const match = /^(lead|contact):([0-9a-f-]{36})$/.exec(Buffer.from(payload, 'base64url').toString('utf8'));
  return match ? { type: match[1] as LinkedPerson['type'], id: match[2] } : null;
}
