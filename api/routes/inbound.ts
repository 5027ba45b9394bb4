/**
 * Exits that happen by themselves (issue 9). Both routes are public: the mail provider posts
 * replies with a shared secret, and a person follows an unsubscribe link from their email.
 * - A reply is matched to the enrollment by the Message-ID we sent (In-Reply-To / References); a
 *   match stops that run as `replied` and puts the reply on the person's timeline. Every inbound
 *   mail is stored, matched or not; a repeat delivery (same Message-ID) changes nothing.
 * - An unsubscribe marks the person do-not-email and stops their sequence as `unsubscribed`.
 */
import crypto from 'node:crypto';
import express, { type Router } from 'express';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { PersonStore } from '../../db/stores/people';
import { serviceSecret } from '../../db/stores/secrets';
import { NotFoundError } from '../../domain/rejection';
import { verifyUnsubscribeToken, type LinkedPerson } from '../../domain/sequences/links';
import { UnauthorizedError } from '../errors';
import { route, type RouteSpec } from '../http';
import { stopSequenceOfPerson } from '../processes/sequences';

export interface InboundDeps {
  db: Db;
  temporal: Client;
  log: Logger;
  /** INBOUND_EMAIL_SECRET; null: the per-database secret (GET /settings/inbound-email shows it to admins). */
  inboundSecret?: string | null;
}

/** Long texts are kept up to a bound rather than refused: a reply quoting a long thread is still a reply. */
const clipped = (max: number) => z.string().transform((v) => v.slice(0, max));

const inboundBody = z.object({
  from: z.string().min(1).max(1000),
  to: z.string().max(1000).optional(),
  subject: z.string().max(1000).optional(),
  /** The raw header block (SendGrid's inbound parse) … */
  headers: clipped(100_000).optional().describe('The raw header block; kept up to 100,000 characters'),
  /** … or the ids themselves. */
  messageId: z.string().max(1000).optional(),
  inReplyTo: z.string().max(1000).optional(),
  references: clipped(20_000).optional(),
  text: clipped(100_000).optional().describe('The reply’s text; kept up to 100,000 characters'),
});

export const inboundResultSchema = z.object({
  id: z.uuid(),
  matched: z.boolean(),
  workflowId: z.string().nullable(),
  stopped: z.boolean().describe('Whether the matched run was signalled to stop as `replied`'),
});

/** One header's value from a raw header block (unfolded). */
function header(block: string, name: string): string | undefined {
  const unfolded = block.replace(/\r?\n[ \t]+/g, ' ');
  const line = unfolded.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

const messageIds = (value: string | undefined): string[] => value?.match(/<[^<>\s]{1,500}>/g) ?? [];

const safeEqual = (a: string, b: string): boolean => {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
};

export function inboundRoutes({ db, temporal, log, inboundSecret }: InboundDeps): RouteSpec[] {
  const people = new PersonStore(db);
  let secret: Promise<string> | null = null;
  const expectedSecret = () => (inboundSecret ? Promise.resolve(inboundSecret) : (secret ??= serviceSecret(db, 'inbound_email').catch((e) => { secret = null; throw e; })));

  async function authenticate(req: express.Request): Promise<void> {
    const basic = /^Basic\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1];
    // HTTP Basic: the password (after the first colon) is the secret.
    const given = req.get('x-inbound-secret') ?? (basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').slice(1).join(':') : undefined);
    if (!given || !safeEqual(given, await expectedSecret())) throw new UnauthorizedError('the inbound-mail secret is missing or wrong (X-Inbound-Secret, or HTTP Basic with it as the password)');
  }

  return [
    route({
      method: 'post', path: '/inbound/email', tag: 'Sequences', summary: 'Receive a reply from the mail provider (inbound parse webhook)',
      description: 'Authenticated by the shared secret in `X-Inbound-Secret` (or HTTP Basic, as the password). The reply is matched by the Message-IDs in In-Reply-To / References (from `headers` or the explicit fields) to the sequence email it answers; a match stops that enrollment as `replied` and adds the reply to the person’s timeline. Unmatched mail is stored and ignored. The same Message-ID delivered twice is stored once.',
      body: inboundBody, idempotent: false,
      responses: { 200: { description: 'Stored (and matched, when it answers a sequence email)', schema: inboundResultSchema }, 401: { description: 'No or wrong secret' } },
      async handler({ req, body }) {
        await authenticate(req);
        const raw = body.headers ?? '';
        const ownId = messageIds(body.messageId ?? header(raw, 'Message-ID'))[0] ?? null;
        const refersTo = [...new Set([...messageIds(body.inReplyTo ?? header(raw, 'In-Reply-To')), ...messageIds(body.references ?? header(raw, 'References'))])].slice(0, 100);
        const sent = refersTo.length
          ? await db('activities').whereIn('message_id', refersTo).whereNotNull('created_by_workflow').whereNotNull('idempotency_key').orderBy('sent_at', 'desc')
            .first('id', 'regarding_type', 'regarding_id', 'owner_id', 'created_by_workflow', 'idempotency_key', 'subject')
          : undefined;
        const result = await db.transaction(async (trx) => {
          const [stored] = await trx('inbound_emails')
            .insert({
              from_address: body.from, to_address: body.to ?? null, subject: body.subject ?? null, message_id: ownId, refers_to: refersTo, body: body.text ?? null,
              matched_activity_id: sent?.id ?? null, matched_workflow_id: sent?.created_by_workflow ?? null,
            })
            .onConflict('message_id').ignore()
            .returning('id');
          if (!stored) {
            const existing = await trx('inbound_emails').where({ message_id: ownId }).first('id', 'matched_workflow_id');
            return { id: existing.id as string, duplicate: true, workflowId: existing.matched_workflow_id as string | null };
          }
          if (sent) {
            const [reply] = await trx('activities').insert({
              type: 'email', regarding_type: sent.regarding_type, regarding_id: sent.regarding_id, owner_id: sent.owner_id,
              subject: body.subject?.trim() || `Reply to: ${sent.subject}`, body: `From: ${body.from}\n\n${body.text ?? ''}`,
              status: 'completed', completed_at: trx.fn.now(), outcome: 'reply received', message_id: ownId, created_by_workflow: sent.created_by_workflow,
            }).returning('id');
            await trx('inbound_emails').where({ id: stored.id }).update({ timeline_activity_id: reply.id });
          }
          return { id: stored.id as string, duplicate: false, workflowId: (sent?.created_by_workflow as string | undefined) ?? null };
        });
        let stopped = false;
        if (sent && !result.duplicate) {
          const runId = String(sent.idempotency_key).split('/')[1];
          stopped = await stopSequenceOfPerson(temporal, log, sent.regarding_type, sent.regarding_id, { reason: 'replied', by: 'system' }, runId);
        }
        return { status: 200, body: { id: result.id, matched: result.workflowId !== null, workflowId: result.workflowId, stopped } };
      },
    }),
    route({
      method: 'post', path: '/unsubscribe/:token', tag: 'Sequences', summary: 'Unsubscribe (the link in every sequence email; RFC 8058 one-click)',
      description: 'Marks the person do-not-email and stops their running sequence as `unsubscribed`. Later email steps are skipped and a new enrollment in a sequence with emails is refused (409 `do_not_email`). Repeating it changes nothing. A bad or forged token is 404.',
      params: z.object({ token: z.string().max(400) }), idempotent: false,
      responses: { 200: { description: 'Unsubscribed', schema: z.object({ unsubscribed: z.literal(true), firstTime: z.boolean() }) }, 404: { description: 'No such link' } },
      async handler({ params: { token } }) {
        const person = await verified(token);
        const firstTime = await people.markDoNotEmail(person.type, person.id);
        await stopSequenceOfPerson(temporal, log, person.type, person.id, { reason: 'unsubscribed', by: 'system' });
        return { status: 200, body: { unsubscribed: true, firstTime } };
      },
    }),
  ];

  async function verified(token: string): Promise<LinkedPerson> {
    const person = verifyUnsubscribeToken(await serviceSecret(db, 'mail_links'), token);
    if (!person || !(await people.get(person.type, person.id))) throw new NotFoundError('unsubscribe link', token.slice(0, 12));
    return person;
  }
}

/** Where an admin reads the webhook's secret to configure the mail provider with it. */
export function inboundSettingsRoutes({ db, inboundSecret }: Pick<InboundDeps, 'db' | 'inboundSecret'>): RouteSpec[] {
  return [
    route({
      method: 'get', path: '/settings/inbound-email', tag: 'Sequences', summary: 'The inbound-mail webhook: its path and secret (admins)',
      roles: ['admin'],
      responses: { 200: { description: 'What to configure at the mail provider', schema: z.object({ path: z.string(), secret: z.string(), fromEnvironment: z.boolean() }) } },
      async handler() {
        return { status: 200, body: { path: '/inbound/email', secret: inboundSecret ?? (await serviceSecret(db, 'inbound_email')), fromEnvironment: Boolean(inboundSecret) } };
      },
    }),
  ];
}

/** The page a person lands on from the link: one button, so a mail scanner's GET unsubscribes nobody. */
export function unsubscribePage(): Router {
  const router = express.Router();
  router.get('/unsubscribe/:token', (req, res) => {
    const token = req.params.token.replace(/[^A-Za-z0-9._-]/g, '');
    res.type('html').send(`<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head><body style="font-family:sans-serif;max-width:32em;margin:4em auto">
<h1>Stop these emails?</h1><p>You will get no more emails from our sales sequences.</p>
<form method="post" action="/unsubscribe/${token}"><button type="submit">Unsubscribe</button></form></body></html>`);
  });
  return router;
}
