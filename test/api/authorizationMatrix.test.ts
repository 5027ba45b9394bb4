/**
 * The authorization matrix (docs/authorization.md says the same in words): every operation of the
 * real app's OpenAPI document × every kind of caller — no token, a malformed Authorization header,
 * an unknown token, the rep who owns the record, another rep, a technical consultant, a manager, an
 * admin — and the answer each gets, from the one table below. An operation the table does not name
 * fails the test, so a new route cannot skip the question of who may call it.
 *
 * A refusal must change nothing: around each one the test fingerprints every table (audit_log
 * included) and sequence, and the history of the record's workflow. Every record is built first
 * and the database left to settle; then every refusal is tried; the permitted calls come last,
 * each on a record of its own unless the operation can be repeated (a disqualified lead cannot be
 * disqualified twice), so nothing they start in the background can be mistaken for a refused
 * request's write. Real Postgres, the Temporal dev server, a worker and the API over HTTP.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { requestUnification, waitForUnification } from '../../api/unificationClient';
import type { Db } from '../../db/knex';
import { TimelineActivityStore } from '../../db/stores/timelineActivities';
import { TechCheckStore } from '../../db/stores/techChecks';
import { dealWorkflowId, type TechCheckReminderKind } from '../../workflows/dealLifecycle.contract';
import { nurtureWorkflowId } from '../../workflows/leadNurture.contract';
import { enrollmentWorkflowId } from '../../workflows/sequenceEnrollment.contract';
import { serviceSecret } from '../../db/stores/secrets';
import { unsubscribeToken } from '../../domain/sequences/links';
import { DEFAULT_SEQUENCE_ID } from '../../domain/sequences/definition';
import { orderWorkflowId } from '../../workflows/orderToCash.contract';
import { importCsv } from '../customers/helpers';
import { dealAt, productId, qualifiedDeal } from '../helpers/deals';
import { expectStatus, startStack, type TestStack } from '../helpers/stack';
import { createLead, uniqueEmail } from '../helpers/fixtures';
import { apiRequest } from '../helpers/http';
import { invoicedOrder, today, wonOrder } from '../helpers/orders';
import { eventually } from '../helpers/temporal';
import { operationId } from '../../api/workflowCalls';
import type { Account, Contact, DealUpdated, LeadImportView, Nurture, Problem, QuoteDetail } from '../helpers/apiTypes';

type Caller = 'none' | 'malformed' | 'badToken' | 'owner' | 'otherRep' | 'tech' | 'manager' | 'admin';
const CALLERS: readonly Caller[] = ['none', 'malformed', 'badToken', 'owner', 'otherRep', 'tech', 'manager', 'admin'];

/** A success status, or a refusal with its code. */
type Outcome = number | readonly [401 | 403, string];
type Expected = Record<Caller, Outcome>;

const UNAUTHORIZED = [401, 'unauthorized'] as const;
const FORBIDDEN = [403, 'forbidden'] as const;
const NOT_OWNER = [403, 'not_owner'] as const;
const REASSIGN = [403, 'owner_reassign_forbidden'] as const;
const SIGNED_OUT = { none: UNAUTHORIZED, malformed: UNAUTHORIZED, badToken: UNAUTHORIZED } as const;

/** The rules of docs/authorization.md, by name; `ok` is the status a permitted caller gets. */
const publicRoute = (ok: number): Expected => ({ none: ok, malformed: ok, badToken: ok, owner: ok, otherRep: ok, tech: ok, manager: ok, admin: ok });
const anyone = (ok: number): Expected => ({ ...SIGNED_OUT, owner: ok, otherRep: ok, tech: ok, manager: ok, admin: ok });
const salesRoles = (ok: number): Expected => ({ ...SIGNED_OUT, owner: ok, otherRep: ok, tech: FORBIDDEN, manager: ok, admin: ok });
const ownerOrSupervisor = (ok: number): Expected => ({ ...SIGNED_OUT, owner: ok, otherRep: NOT_OWNER, tech: FORBIDDEN, manager: ok, admin: ok });
const supervisors = (ok: number): Expected => ({ ...SIGNED_OUT, owner: FORBIDDEN, otherRep: FORBIDDEN, tech: FORBIDDEN, manager: ok, admin: ok });
const techConsultants = (ok: number): Expected => ({ ...SIGNED_OUT, owner: FORBIDDEN, otherRep: FORBIDDEN, tech: ok, manager: FORBIDDEN, admin: FORBIDDEN });

/** What one request is about: the path's ids, and the workflows a refusal must leave untouched. */
interface Target {
  id?: string;
  lineId?: string;
  query?: string;
  workflowIds?: string[];
  /** Other ids the body needs. */
  extra?: Record<string, string>;
}

interface Case {
  variant?: string;
  expect: Expected;
  /** A record in a state where the operation would succeed. */
  target(): Promise<Target>;
  body?(caller: Caller, target: Target): unknown;
  /** A multipart body instead of JSON. */
  form?(): FormData;
  /** The operation can be repeated: the permitted callers act on one record in turn. */
  shared?: boolean;
}

interface World {
  leadId: string;
  enrolledLeadId: string;
  dealId: string;
  quoteId: string;
  orderId: string;
  invoiceId: string;
  accountId: string;
  contactId: string;
  activityId: string;
  productId: string;
  customerId: string;
  importId: string;
  enrolledContactId: string;
  sequenceId: string;
  batchId: string;
  leadImportId: string;
}

describe('authorization matrix: every operation × every kind of caller, from one table (dev server)', function () {
  let stack: TestStack;
  let db: Db;
  let world: World;
  const tokens = {} as Record<Caller, string | null>;
  const ids = {} as Record<Caller, string>;
  let reminderVisit = 0;

  const unique = (what: string) => `${what} ${crypto.randomBytes(4).toString('hex')}`;

  // ------------------------------------------------------------------------------------------
  // Records, each owned by the rep and in a state where the operation would succeed.

  const rec = {
    lead: async (): Promise<Target> => ({ id: (await createLead(db, stack.users.rep.id)).id }),
    /** A lead whose sequence has made its intro call and waits for the information email. */
    enrolledLead: async (): Promise<Target & { id: string; extra: { introCallId: string } }> => {
      const { id } = await createLead(db, stack.users.rep.id);
      expectStatus(await stack.as.rep.post(`/leads/${id}/nurture`), 202);
      const call = await eventually(async () => (await db('activities').where({ regarding_type: 'lead', regarding_id: id, type: 'phone_call' }).first('id')) as { id: string } | undefined, 'the intro call');
      await eventually(async () => (await stack.as.rep.get<Nurture>(`/leads/${id}/nurture`)).body.nextStepAt, 'the wait for the information email');
      return { id, workflowIds: [nurtureWorkflowId(id)], extra: { introCallId: call.id } };
    },
    pausedLead: async (): Promise<Target> => {
      const target = await rec.enrolledLead();
      expectStatus(await stack.as.rep.post(`/leads/${target.id}/nurture/pause`), 200);
      return target;
    },
    /** A corporate contact with an email, owned by the rep: the default sequence takes them. */
    contactToEnroll: async (): Promise<Target> => {
      const contact = await stack.as.rep.post<Contact>('/contacts', { lastName: unique('Lind'), email: uniqueEmail('contact'), customerType: 'corporate' });
      expectStatus(contact, 201);
      return { id: contact.body.id };
    },
    enrolledContact: async (): Promise<Target & { id: string }> => {
      const { id } = (await rec.contactToEnroll()) as { id: string };
      expectStatus(await stack.as.rep.post(`/contacts/${id}/nurture`), 202);
      await eventually(async () => (await stack.as.rep.get<Nurture>(`/contacts/${id}/nurture`)).body.nextStepAt && (await stack.as.rep.get<Nurture>(`/contacts/${id}/nurture`)).body.steps[0].state === 'done', 'the intro call');
      return { id, workflowIds: [enrollmentWorkflowId('contact', id)] };
    },
    pausedContact: async (): Promise<Target> => {
      const target = await rec.enrolledContact();
      expectStatus(await stack.as.rep.post(`/contacts/${target.id}/nurture/pause`), 200);
      return target;
    },
    /** A sequence a manager created and published once. */
    sequence: async (): Promise<Target> => {
      const created = await stack.as.manager.post<{ id: string }>('/sequences', {
        name: unique('Matrix sequence'), steps: [{ key: 'call', type: 'task', title: 'Call', wait: { amount: 1, unit: 'business_days' }, subject: 'Call {{fullName}}', body: 'Call them' }],
      });
      expectStatus(created, 201);
      expectStatus(await stack.as.manager.post(`/sequences/${created.body.id}/publish`), 201);
      return { id: created.body.id };
    },
    sequenceAndLead: async (): Promise<Target> => ({ id: (await rec.sequence()).id, extra: { leadId: (await createLead(db, stack.users.rep.id)).id } }),
    holidayDay: async (): Promise<Target> => ({ extra: { day: `${2100 + crypto.randomInt(800)}-${String(1 + crypto.randomInt(12)).padStart(2, '0')}-${String(1 + crypto.randomInt(28)).padStart(2, '0')}` } }),
    holiday: async (): Promise<Target> => {
      const target = await rec.holidayDay();
      expectStatus(await stack.as.manager.put(`/holidays/${target.extra!.day}`, { name: 'Matrix day' }), 201);
      return target;
    },
    unsubscribeLink: async (): Promise<Target> => {
      const lead = await createLead(db, stack.users.rep.id);
      return { extra: { token: unsubscribeToken(await serviceSecret(db, 'mail_links'), { type: 'lead', id: lead.id }) } };
    },
    deal: async (): Promise<Target> => {
      const id = await qualifiedDeal(stack);
      return { id, workflowIds: [dealWorkflowId(id)] };
    },
    dealWithLine: async (): Promise<Target> => {
      const target = await rec.deal();
      const line = await stack.as.rep.post<DealUpdated>(`/deals/${target.id}/lines`, { productId: world.productId, quantity: 2 });
      expectStatus(line, 201);
      return { ...target, lineId: line.body.createdId! };
    },
    draftQuote: async (): Promise<Target> => {
      const deal = await rec.dealWithLine();
      const quote = await stack.as.rep.post<QuoteDetail>(`/deals/${deal.id}/quotes`);
      expectStatus(quote, 201);
      return { id: quote.body.id, lineId: quote.body.lines[0].id, workflowIds: deal.workflowIds };
    },
    activeQuote: async (): Promise<Target> => {
      const quote = await rec.draftQuote();
      expectStatus(await stack.as.rep.post(`/quotes/${quote.id}/activate`), 200);
      return quote;
    },
    quoteInClose: async (): Promise<Target> => {
      const { dealId, quoteId } = await dealAt(stack, 'close', 1_500_000);
      return { id: quoteId, workflowIds: [dealWorkflowId(dealId)] };
    },
    dealWaitingForCheck: async (): Promise<Target & { id: string; extra: { quoteId: string } }> => {
      const { dealId, quoteId } = await dealAt(stack, 'tech_check', 2_500_000);
      return { id: dealId, workflowIds: [dealWorkflowId(dealId)], extra: { quoteId } };
    },
    order: async (): Promise<Target> => {
      const { orderId, dealId } = await wonOrder(stack);
      return { id: orderId, workflowIds: [orderWorkflowId(orderId), dealWorkflowId(dealId)] };
    },
    fulfilledOrder: async (): Promise<Target> => {
      const order = await rec.order();
      expectStatus(await stack.as.rep.post(`/orders/${order.id}/fulfill`, { status: 'complete', fulfilledOn: today() }), 200);
      return order;
    },
    invoice: async (): Promise<Target> => {
      const { invoiceId, orderId } = await invoicedOrder(stack);
      return { id: invoiceId, workflowIds: [orderWorkflowId(orderId)] };
    },
    account: async (): Promise<Target> => {
      const account = await stack.as.rep.post<Account>('/accounts', { name: unique('Contoso Test Account') });
      expectStatus(account, 201);
      return { id: account.body.id };
    },
    contact: async (): Promise<Target> => {
      const contact = await stack.as.rep.post<Contact>('/contacts', { lastName: unique('Moss'), email: uniqueEmail('contact') });
      expectStatus(contact, 201);
      return { id: contact.body.id };
    },
    activity: async (): Promise<Target> => {
      const rep = stack.users.rep;
      const task = await new TimelineActivityStore(db).create(
        { type: 'task', regarding: { type: 'lead', id: world.leadId }, subject: 'Send the brochure', dueAt: new Date(Date.now() + 86_400_000).toISOString() },
        { actor: { type: 'user', id: rep.id }, userId: rep.id },
      );
      return { id: task.id };
    },
    introCall: async (): Promise<Target> => {
      const lead = await rec.enrolledLead();
      return { id: lead.extra.introCallId, workflowIds: lead.workflowIds };
    },
    /** A Tech Check reminder left for a team, as the deal workflow writes it: nobody owns it. */
    reminder: (kind: TechCheckReminderKind) => async (): Promise<Target> => {
      reminderVisit += 1;
      const { activityId } = await new TechCheckStore(db).createReminder({
        dealId: world.dealId, visit: reminderVisit, kind, ownerId: null, subject: `Tech Check reminder ${reminderVisit}`, body: 'Review the quote.',
        dueAt: new Date().toISOString(), workflowId: dealWorkflowId(world.dealId),
      });
      return { id: activityId };
    },
  };

  /** A record of the shared world (reads), or none (lists, creations). */
  const at = (id: () => string) => async (): Promise<Target> => ({ id: id() });
  const none = (query?: () => string) => async (): Promise<Target> => ({ query: query?.() });
  const leadBody = () => ({ topic: 'Thermostats for 12 offices', lastName: 'Moss', email: uniqueEmail(), companyName: 'Fabrikam', customerType: 'corporate' });

  // ------------------------------------------------------------------------------------------
  // THE TABLE: every operation of the OpenAPI document, and what each caller gets.

  const TABLE: Record<string, Case[]> = {
    'GET /health': [{ expect: publicRoute(200), target: none() }],

    // Leads: colleagues read; the owner, a manager or an admin changes; only supervisors reassign.
    'POST /leads': [
      { expect: salesRoles(201), target: none(), body: leadBody },
      { variant: 'naming another rep as owner', expect: { ...salesRoles(201), owner: REASSIGN }, target: none(), body: () => ({ ...leadBody(), ownerId: ids.otherRep }) },
    ],
    'GET /leads': [{ expect: anyone(200), target: none() }],
    // A lead import creates leads: whoever may create one; its report (raw rows) is the importer's and their supervisors'.
    'POST /leads/imports': [
      { expect: salesRoles(201), target: none(), form: leadsUpload },
      { variant: 'naming another rep as owner', expect: { ...salesRoles(201), owner: REASSIGN }, target: none(() => `ownerId=${ids.otherRep}`), form: leadsUpload },
    ],
    'GET /leads/imports/{id}': [{ expect: ownerOrSupervisor(200), target: at(() => world.leadImportId) }],
    'GET /leads/imports/{id}/enrollment': [{ expect: ownerOrSupervisor(200), target: at(() => world.leadImportId) }],
    'GET /leads/{id}': [{ expect: anyone(200), target: at(() => world.leadId) }],
    'PATCH /leads/{id}': [
      { expect: ownerOrSupervisor(200), target: rec.lead, body: () => ({ topic: 'Cameras for 3 warehouses' }), shared: true },
      { variant: 'reassigning it', expect: { ...ownerOrSupervisor(200), owner: REASSIGN }, target: rec.lead, body: () => ({ ownerId: ids.otherRep }), shared: true },
    ],
    'POST /leads/{id}/disqualify': [{ expect: ownerOrSupervisor(200), target: rec.lead, body: () => ({ reason: 'no_longer_interested' }) }],
    'POST /leads/{id}/qualify': [{ expect: ownerOrSupervisor(201), target: rec.lead }],
    'GET /leads/{id}/timeline': [{ expect: anyone(200), target: at(() => world.leadId) }],

    // Nurture: the lead's owner (or a supervisor) enrolls, stops, pauses and resumes.
    'POST /leads/{id}/nurture': [{ expect: ownerOrSupervisor(202), target: rec.lead }],
    'GET /leads/{id}/nurture': [{ expect: anyone(200), target: at(() => world.enrolledLeadId) }],
    'POST /leads/{id}/nurture/stop': [{ expect: ownerOrSupervisor(200), target: rec.enrolledLead, body: () => ({ reason: 'replied' }) }],
    'POST /leads/{id}/nurture/pause': [{ expect: ownerOrSupervisor(200), target: rec.enrolledLead }],
    'POST /leads/{id}/nurture/resume': [{ expect: ownerOrSupervisor(200), target: rec.pausedLead }],
    'POST /contacts/{id}/nurture': [{ expect: ownerOrSupervisor(202), target: rec.contactToEnroll }],
    'GET /contacts/{id}/nurture': [{ expect: anyone(200), target: at(() => world.enrolledContactId) }],
    'POST /contacts/{id}/nurture/stop': [{ expect: ownerOrSupervisor(200), target: rec.enrolledContact, body: () => ({ reason: 'replied' }) }],
    'POST /contacts/{id}/nurture/pause': [{ expect: ownerOrSupervisor(200), target: rec.enrolledContact }],
    'POST /contacts/{id}/nurture/resume': [{ expect: ownerOrSupervisor(200), target: rec.pausedContact }],

    // Sequences (issue 9): everyone reads them; managers and admins write them and run bulk actions.
    'GET /sequences': [{ expect: anyone(200), target: none() }],
    'POST /sequences': [{ expect: supervisors(201), target: none(), body: () => ({ name: unique('New sequence') }) }],
    'GET /sequences/{id}': [{ expect: anyone(200), target: at(() => world.sequenceId) }],
    'PATCH /sequences/{id}': [{ expect: supervisors(200), target: rec.sequence, body: () => ({ description: 'Edited' }), shared: true }],
    'POST /sequences/{id}/publish': [{ expect: supervisors(201), target: rec.sequence, shared: true }],
    'POST /sequences/{id}/archive': [{ expect: supervisors(200), target: rec.sequence }],
    'GET /sequences/{id}/versions/{version}': [{ expect: anyone(200), target: async () => ({ id: world.sequenceId, extra: { version: '1' } }) }],
    'GET /sequences/{id}/report': [{ expect: anyone(200), target: at(() => world.sequenceId) }],
    'POST /sequences/{id}/enrollments': [{
      expect: salesRoles(200), target: rec.sequenceAndLead, shared: true,
      body: (_who, t) => ({ people: [{ type: 'lead', id: t.extra!.leadId }] }),
    }],
    'POST /enrollments/bulk': [{ expect: supervisors(202), target: none(), body: () => ({ action: 'pause', filter: { sequenceId: crypto.randomUUID() } }) }],
    'GET /enrollments/bulk/{id}': [{ expect: supervisors(200), target: at(() => world.batchId) }],
    'POST /enrollments/reassign': [{ expect: supervisors(202), target: none(), body: () => ({ fromOwnerId: ids.tech, toOwnerId: ids.admin }) }],
    'GET /holidays': [{ expect: anyone(200), target: none() }],
    'PUT /holidays/{day}': [{ expect: supervisors(201), target: rec.holidayDay, body: () => ({ name: 'Founders day' }) }],
    'DELETE /holidays/{day}': [{ expect: supervisors(204), target: rec.holiday }],
    'GET /users/{id}/calendar': [{ expect: anyone(200), target: at(() => ids.owner) }],
    'PATCH /users/{id}/calendar': [{
      expect: { ...SIGNED_OUT, owner: 200, otherRep: NOT_OWNER, tech: NOT_OWNER, manager: 200, admin: 200 },
      target: at(() => ids.owner), body: () => ({ signature: 'Best regards' }), shared: true,
    }],
    'GET /settings/inbound-email': [{ expect: { ...SIGNED_OUT, owner: FORBIDDEN, otherRep: FORBIDDEN, tech: FORBIDDEN, manager: FORBIDDEN, admin: 200 }, target: none() }],
    // The mail provider's webhook answers only its shared secret, never a user's token.
    'POST /inbound/email': [{ expect: { ...SIGNED_OUT, owner: UNAUTHORIZED, otherRep: UNAUTHORIZED, tech: UNAUTHORIZED, manager: UNAUTHORIZED, admin: UNAUTHORIZED }, target: none(), body: () => ({ from: 'someone@example.com', text: 'hi' }) }],
    // An unsubscribe link works for whoever follows it: the signed token is the authority.
    'POST /unsubscribe/{token}': [{ expect: publicRoute(200), target: rec.unsubscribeLink, shared: true }],

    // Activities: anyone adds to any timeline (their own activity); its owner, its team or a supervisor changes it.
    'POST /activities': [
      { expect: anyone(201), target: none(), body: () => ({ type: 'note', regarding: { type: 'lead', id: world.leadId }, subject: 'Met them at the trade show' }) },
      {
        variant: 'a task for someone else', expect: { ...anyone(201), tech: REASSIGN }, target: none(),
        body: () => ({ type: 'task', regarding: { type: 'lead', id: world.leadId }, subject: 'Call back', ownerId: ids.otherRep }),
      },
    ],
    'GET /activities/{id}': [{ expect: anyone(200), target: at(() => world.activityId) }],
    'GET /me': [{ expect: anyone(200), target: none() }],
    'GET /me/activities': [{ expect: anyone(200), target: none(() => 'status=open,overdue') }],
    'PATCH /activities/{id}': [
      { expect: { ...ownerOrSupervisor(200), tech: NOT_OWNER }, target: rec.activity, body: () => ({ status: 'completed', outcome: 'Sent' }) },
      { variant: 'renamed and rescheduled', expect: { ...ownerOrSupervisor(200), tech: NOT_OWNER }, target: rec.activity, body: () => ({ subject: 'Renamed', dueAt: new Date(Date.now() + 2 * 86_400_000).toISOString() }), shared: true },
      { variant: 'taken over by the caller', expect: { ...ownerOrSupervisor(200), tech: NOT_OWNER }, target: rec.activity, body: (who) => ({ ownerId: ids[who] }) },
      { variant: 'given to another rep', expect: { ...ownerOrSupervisor(200), owner: REASSIGN, tech: NOT_OWNER }, target: rec.activity, body: () => ({ ownerId: ids.otherRep }), shared: true },
      { variant: 'the nurture sequence’s intro call, canceled', expect: { ...ownerOrSupervisor(200), tech: NOT_OWNER }, target: rec.introCall, body: () => ({ status: 'canceled' }) },
      {
        variant: 'a Tech Check reminder for the technical consultants, completed', expect: { ...SIGNED_OUT, owner: NOT_OWNER, otherRep: NOT_OWNER, tech: 200, manager: 200, admin: 200 },
        target: rec.reminder('tech_consultants'), body: () => ({ status: 'completed' }),
      },
      {
        variant: 'a Tech Check reminder for the technical consultants, taken by the caller', expect: { ...SIGNED_OUT, owner: NOT_OWNER, otherRep: NOT_OWNER, tech: 200, manager: 200, admin: 200 },
        target: rec.reminder('tech_consultants'), body: (who) => ({ ownerId: ids[who] }),
      },
      {
        variant: 'a Tech Check reminder for any manager, completed', expect: { ...SIGNED_OUT, owner: NOT_OWNER, otherRep: NOT_OWNER, tech: NOT_OWNER, manager: 200, admin: 200 },
        target: rec.reminder('manager'), body: () => ({ status: 'completed' }),
      },
    ],

    // Deals and their lines: the deal's owner, a manager or an admin.
    'GET /deals': [{ expect: anyone(200), target: none() }],
    'GET /deals/{id}': [{ expect: anyone(200), target: at(() => world.dealId) }],
    'PATCH /deals/{id}': [
      { expect: ownerOrSupervisor(200), target: rec.deal, body: () => ({ name: 'Renamed deal' }), shared: true },
      { variant: 'reassigning it', expect: { ...ownerOrSupervisor(200), owner: REASSIGN }, target: rec.deal, body: () => ({ ownerId: ids.otherRep }), shared: true },
    ],
    'POST /deals/{id}/lines': [{ expect: ownerOrSupervisor(201), target: rec.deal, body: () => ({ productId: world.productId, quantity: 1 }), shared: true }],
    'PATCH /deals/{id}/lines/{lineId}': [{ expect: ownerOrSupervisor(200), target: rec.dealWithLine, body: () => ({ quantity: 3 }), shared: true }],
    'DELETE /deals/{id}/lines/{lineId}': [{ expect: ownerOrSupervisor(200), target: rec.dealWithLine }],
    'POST /deals/{id}/advance': [{ expect: ownerOrSupervisor(200), target: rec.deal, body: () => ({ to: 'develop' }) }],
    'POST /deals/{id}/close': [{ expect: ownerOrSupervisor(200), target: rec.deal, body: () => ({ outcome: 'lost', reason: 'Went with a competitor' }) }],
    'GET /deals/{id}/timeline': [{ expect: anyone(200), target: at(() => world.dealId) }],

    // Quotes: the deal's owner, a manager or an admin.
    'POST /deals/{id}/quotes': [{ expect: ownerOrSupervisor(201), target: rec.dealWithLine }],
    'GET /deals/{id}/quotes': [{ expect: anyone(200), target: at(() => world.dealId) }],
    'GET /quotes/{id}': [{ expect: anyone(200), target: at(() => world.quoteId) }],
    'PATCH /quotes/{id}': [{ expect: ownerOrSupervisor(200), target: rec.draftQuote, body: () => ({ description: 'Installation included' }), shared: true }],
    'POST /quotes/{id}/lines': [{ expect: ownerOrSupervisor(201), target: rec.draftQuote, body: () => ({ productId: world.productId, quantity: 1 }), shared: true }],
    'PATCH /quotes/{id}/lines/{lineId}': [{ expect: ownerOrSupervisor(200), target: rec.draftQuote, body: () => ({ quantity: 4 }), shared: true }],
    'DELETE /quotes/{id}/lines/{lineId}': [{ expect: ownerOrSupervisor(200), target: rec.draftQuote }],
    'POST /quotes/{id}/activate': [{ expect: ownerOrSupervisor(200), target: rec.draftQuote }],
    'POST /quotes/{id}/revise': [{ expect: ownerOrSupervisor(201), target: rec.activeQuote }],
    'POST /quotes/{id}/close': [{ expect: ownerOrSupervisor(200), target: rec.activeQuote, body: () => ({ reason: 'lost' }) }],
    'POST /quotes/{id}/win': [{ expect: ownerOrSupervisor(201), target: rec.quoteInClose }],
    'GET /quotes/{id}/timeline': [{ expect: anyone(200), target: at(() => world.quoteId) }],

    // Tech Checks: only technical consultants record them (SPEC).
    'POST /deals/{id}/tech-checks': [{
      expect: techConsultants(201), target: rec.dealWaitingForCheck,
      body: (_who, t) => ({ quoteId: t.extra!.quoteId, outcome: 'passed', completedAt: new Date().toISOString(), notes: 'Everything is in order.' }),
    }],
    'GET /deals/{id}/tech-checks': [{ expect: anyone(200), target: at(() => world.dealId) }],

    'GET /products': [{ expect: anyone(200), target: none() }],
    'GET /products/{id}': [{ expect: anyone(200), target: at(() => world.productId) }],

    // Orders and invoices: the order's owner, a manager or an admin.
    'GET /orders': [{ expect: anyone(200), target: none() }],
    'GET /orders/{id}': [{ expect: anyone(200), target: at(() => world.orderId) }],
    'POST /orders/{id}/fulfill': [{ expect: ownerOrSupervisor(200), target: rec.order, body: () => ({ status: 'partial', fulfilledOn: today() }), shared: true }],
    'POST /orders/{id}/cancel': [{ expect: ownerOrSupervisor(200), target: rec.order, body: () => ({ reason: 'customer_request' }) }],
    'POST /orders/{id}/invoices': [{ expect: ownerOrSupervisor(201), target: rec.fulfilledOrder }],
    'GET /orders/{id}/invoices': [{ expect: anyone(200), target: at(() => world.orderId) }],
    'GET /orders/{id}/timeline': [{ expect: anyone(200), target: at(() => world.orderId) }],
    'GET /invoices': [{ expect: anyone(200), target: none() }],
    'GET /invoices/{id}': [{ expect: anyone(200), target: at(() => world.invoiceId) }],
    'POST /invoices/{id}/pay': [{ expect: ownerOrSupervisor(200), target: rec.invoice, body: () => ({ status: 'partial', paidOn: today(), amountCents: 10_000 }), shared: true }],
    'POST /invoices/{id}/cancel': [{ expect: ownerOrSupervisor(200), target: rec.invoice, body: () => ({ reason: 'billing_error' }) }],
    'GET /invoices/{id}/timeline': [{ expect: anyone(200), target: at(() => world.invoiceId) }],

    // Accounts and contacts: created by the sales roles; the owner, a manager or an admin changes or deletes.
    'POST /accounts': [{ expect: salesRoles(201), target: none(), body: () => ({ name: unique('New Account') }) }],
    'GET /accounts': [{ expect: anyone(200), target: none() }],
    'GET /accounts/{id}': [{ expect: anyone(200), target: at(() => world.accountId) }],
    'PATCH /accounts/{id}': [
      { expect: ownerOrSupervisor(200), target: rec.account, body: () => ({ phone: '555-0100' }), shared: true },
      { variant: 'reassigning it', expect: { ...ownerOrSupervisor(200), owner: REASSIGN }, target: rec.account, body: () => ({ ownerId: ids.otherRep }), shared: true },
    ],
    'DELETE /accounts/{id}': [{ expect: ownerOrSupervisor(204), target: rec.account }],
    'GET /accounts/{id}/timeline': [{ expect: anyone(200), target: at(() => world.accountId) }],
    'POST /contacts': [{ expect: salesRoles(201), target: none(), body: () => ({ lastName: unique('Contact') }) }],
    'GET /contacts': [{ expect: anyone(200), target: none() }],
    'GET /contacts/{id}': [{ expect: anyone(200), target: at(() => world.contactId) }],
    'PATCH /contacts/{id}': [{ expect: ownerOrSupervisor(200), target: rec.contact, body: () => ({ businessPhone: '555-0101' }), shared: true }],
    'DELETE /contacts/{id}': [{ expect: ownerOrSupervisor(204), target: rec.contact }],
    'GET /contacts/{id}/timeline': [{ expect: anyone(200), target: at(() => world.contactId) }],

    // The customer view: everyone reads profiles; imports (raw rows: personal data) and unification are for supervisors.
    'GET /customers': [{ expect: anyone(200), target: none() }],
    'GET /customers/{id}': [{ expect: anyone(200), target: at(() => world.customerId) }],
    'POST /imports': [{ expect: supervisors(201), target: none(() => 'unify=false'), form: contactsUpload }],
    'GET /imports/{id}': [{ expect: supervisors(200), target: at(() => world.importId) }],
    'POST /unification/runs': [{ expect: supervisors(202), target: none() }],
    'GET /unification': [{ expect: supervisors(200), target: none() }],

    'GET /audit': [{ expect: supervisors(200), target: none(() => `entity=lead&id=${world.leadId}`) }],

    // Operations: a change answered 503 still_processing is followed by whoever made it, or a supervisor.
    'GET /operations/{id}': [{
      expect: { ...SIGNED_OUT, owner: 200, otherRep: NOT_OWNER, tech: NOT_OWNER, manager: 200, admin: 200 },
      target: at(() => operationId({ workflowId: dealWorkflowId(world.dealId), updateId: `u:${stack.users.rep.id}|POST /deals/${world.dealId}/advance|k:matrix`, resource: `/deals/${world.dealId}` })),
    }],
  };

  /** One eCommerce contact, in the sample's layout, with a key of its own. */
  function contactsCsv(): string {
    const key = `CNTID_AUTHZ_${crypto.randomBytes(3).toString('hex').toUpperCase()}`;
    return 'ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,PostCode,StreetAddress,City,State,Country,CreatedOn,Loyalty Tier,Email Subscriber,Income,Occupation,CustomerSatisfaction\n'
      + `${key},Dana,Reyes,Dana Reyes,1/2/1980,Female,${key.toLowerCase()}@example.com,555.010.0199,78226,1 Main St,San Antonio,TX,USA,4/12/2020,low,No,50000,Engineer,high\n`;
  }

  /** One lead with an email of its own. */
  function leadsCsv(): string {
    return `topic,lastName,customerType,email\nDoorbells,Reyes,corporate,${uniqueEmail('matrix')}\n`;
  }

  function leadsUpload(): FormData {
    const form = new FormData();
    form.append('file', new Blob([leadsCsv()], { type: 'text/csv' }), 'leads.csv');
    return form;
  }

  function contactsUpload(): FormData {
    const form = new FormData();
    form.append('contacts', new Blob([contactsCsv()], { type: 'text/csv' }), 'contacts.csv');
    return form;
  }

  // ------------------------------------------------------------------------------------------

  function headersOf(caller: Caller): Record<string, string> {
    if (caller === 'none') return {};
    if (caller === 'malformed') return { Authorization: `Token ${tokens.owner}` };
    if (caller === 'badToken') return { Authorization: 'Bearer sps_this-token-was-never-issued' };
    return { Authorization: `Bearer ${tokens[caller]}` };
  }

  /** The operation's path with the target's ids in it. */
  function pathOf(op: string, target: Target): string {
    const path = op.slice(op.indexOf(' ') + 1).replace('{id}', target.id ?? '').replace('{lineId}', target.lineId ?? '')
      .replace(/\{(\w+)\}/g, (whole, name: string) => target.extra?.[name] ?? whole);
    return target.query ? `${path}?${target.query}` : path;
  }

  async function send(op: string, caller: Caller, c: Case, target: Target): Promise<{ status: number; body: unknown; type: string }> {
    const method = op.slice(0, op.indexOf(' '));
    const headers = headersOf(caller);
    let body: FormData | string | undefined;
    if (c.form) body = c.form();
    else if (c.body) {
      body = JSON.stringify(c.body(caller, target));
      headers['Content-Type'] = 'application/json';
    }
    const reply = await apiRequest(stack.url, method, pathOf(op, target), { headers, body, redirect: 'manual' });
    return { status: reply.status, body: reply.body ?? '', type: reply.headers.get('content-type') ?? '' };
  }

  /**
   * What a write would change, in one cheap query: per table, its row count and its newest row
   * version (an insert or a delete changes the count, an update writes a version newer than every
   * other); per sequence, its last value (a refused request must not use up an invoice number).
   */
  let fingerprintSql = '';
  async function fingerprint(): Promise<Map<string, string>> {
    const { rows } = await db.raw(fingerprintSql);
    return new Map(rows.map((r: { t: string; n: number; h: string }) => [r.t, `${r.n}:${r.h}`]));
  }

  /** The tables (and sequences) whose fingerprint differs. */
  const changedBetween = (before: Map<string, string>, after: Map<string, string>): string[] => [...after].filter(([t, h]) => before.get(t) !== h).map(([t]) => t);

  async function historyLengths(workflowIds: string[] = []): Promise<number[]> {
    return Promise.all(workflowIds.map(async (id) => (await stack.env.client.workflow.getHandle(id).describe()).historyLength));
  }

  /** Runs `tasks` a few at a time: fixtures wait on the worker more than on the CPU. */
  async function inPool<T>(tasks: Array<() => Promise<T>>, size = 4): Promise<T[]> {
    const out: T[] = new Array(tasks.length);
    let next = 0;
    await Promise.all(Array.from({ length: size }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]();
      }
    }));
    return out;
  }

  const isRefusal = (o: Outcome): o is readonly [401 | 403, string] => typeof o !== 'number';
  const label = (op: string, c: Case) => (c.variant ? `${op} (${c.variant})` : op);
  const methodOf = (op: string) => op.split(' ')[0];

  /** Per case: the record the refusals are tried on, and one record per permitted caller. */
  const targets = new Map<Case, { refused: Target; permitted: Partial<Record<Caller, Target>> }>();

  before(async function () {
    this.timeout(300_000);
    stack = await startStack({ server: 'dev' });
    db = stack.db;
    const u = stack.users;
    Object.assign(tokens, { none: null, malformed: null, badToken: null, owner: u.rep.token, otherRep: u.otherRep.token, tech: u.tech_consultant.token, manager: u.manager.token, admin: u.admin.token });
    Object.assign(ids, { none: u.rep.id, malformed: u.rep.id, badToken: u.rep.id, owner: u.rep.id, otherRep: u.otherRep.id, tech: u.tech_consultant.id, manager: u.manager.id, admin: u.admin.id });

    const { rows: tables } = await db.raw("select tablename from pg_tables where schemaname = 'public' order by tablename");
    fingerprintSql = [
      ...tables.map(({ tablename }: { tablename: string }) => `select '${tablename}' as t, count(*)::int as n, coalesce(max(xmin::text::bigint), 0)::text as h from "${tablename}"`),
      "select 'sequence ' || sequencename, 0, coalesce(last_value, 0)::text from pg_sequences where schemaname = 'public'",
    ].join(' union all ');

    // The records every read looks at.
    world = { productId: await productId(db, 'SS-300') } as World;
    world.leadId = (await rec.lead()).id!;
    await Promise.all([
      rec.enrolledLead().then((t) => { world.enrolledLeadId = t.id; }),
      rec.dealWaitingForCheck().then(async (t) => {
        world.dealId = t.id;
        world.quoteId = t.extra.quoteId;
        const deal = await db('deals').where({ id: t.id }).first('account_id', 'contact_id');
        world.accountId = deal.account_id;
        world.contactId = deal.contact_id;
      }),
      invoicedOrder(stack).then((o) => { world.orderId = o.orderId; world.invoiceId = o.invoiceId; }),
      rec.activity().then((t) => { world.activityId = t.id!; }),
      rec.enrolledContact().then((t) => { world.enrolledContactId = t.id; }),
      rec.sequence().then((t) => { world.sequenceId = t.id!; }),
      (async () => {
        const batch = await stack.as.manager.post<{ id: string }>('/enrollments/bulk', { action: 'resume', filter: { sequenceId: crypto.randomUUID() } });
        expectStatus(batch, 202);
        world.batchId = batch.body.id;
      })(),
      apiRequest<LeadImportView>(stack.url, 'POST', `/leads/imports?sequenceId=${DEFAULT_SEQUENCE_ID}`, { headers: { Authorization: `Bearer ${u.rep.token}`, 'Content-Type': 'text/csv' }, body: leadsCsv() }).then((r) => {
        expectStatus(r, 201);
        world.leadImportId = r.body.id;
      }),
      (async () => {
        world.importId = (await importCsv(db, { contacts: contactsCsv() })).id;
        const ticket = await requestUnification(stack.env.client, stack.taskQueue, { trigger: 'api', by: u.manager.id });
        assert.equal((await waitForUnification(stack.env.client, ticket, { timeoutMs: 60_000 })).status, 'completed');
        world.customerId = (await db('customers').first('id')).id;
      })(),
    ]);

    // Every record the matrix acts on, built before any refusal is tried. Refusals change nothing,
    // so the first permitted caller may use the record they were tried on.
    const jobs: Array<() => Promise<void>> = [];
    for (const [op, cases] of Object.entries(TABLE)) {
      for (const c of cases) {
        const entry = { refused: {} as Target, permitted: {} as Partial<Record<Caller, Target>> };
        targets.set(c, entry);
        const [first, ...others] = CALLERS.filter((k) => !isRefusal(c.expect[k]));
        const shared = c.shared || methodOf(op) === 'GET';
        jobs.push(async () => {
          entry.refused = await c.target();
          for (const caller of shared ? [first, ...others] : [first]) entry.permitted[caller] = entry.refused;
        });
        if (shared) continue;
        for (const caller of others) {
          jobs.push(async () => {
            entry.permitted[caller] = await c.target();
          });
        }
      }
    }
    await inPool(jobs);

    // Let what the workflows started above do at once (intro calls, orders' first steps) finish.
    let last = await fingerprint();
    await eventually(async () => {
      await new Promise((r) => setTimeout(r, 500));
      const now = await fingerprint();
      const quiet = changedBetween(last, now).length === 0;
      last = now;
      return quiet;
    }, 'a quiet database', 60_000);
  });

  after(async function () {
    this.timeout(60_000);
    await stack?.teardown();
  });

  it('names every operation of the OpenAPI document, and the document lists each refusal the table expects', async function () {
    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    const documented: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const op = `${method.toUpperCase()} ${path}`;
        documented.push(op);
        for (const c of TABLE[op] ?? []) {
          for (const caller of CALLERS) {
            const outcome = c.expect[caller];
            const status = String(isRefusal(outcome) ? outcome[0] : outcome);
            assert.ok(status in operation.responses, `${label(op, c)}: the document lists ${status} (${caller} gets it)`);
          }
        }
      }
    }
    assert.deepEqual(documented.filter((op) => !(op in TABLE)), [], 'operations the authorization table does not cover: add them to TABLE and docs/authorization.md');
    assert.deepEqual(Object.keys(TABLE).filter((op) => !documented.includes(op)), [], 'operations in the table the API no longer has');
  });

  it('a route a role may not use refuses it before looking the record up; a record everyone reads is 404 when missing, whoever asks', async function () {
    const unknown = crypto.randomUUID();
    const get = (caller: Caller, path: string) => send(`GET ${path}`, caller, {} as Case, {});
    for (const caller of ['owner', 'tech'] as const) {
      const [known, missing] = [await get(caller, `/imports/${world.importId}`), await get(caller, `/imports/${unknown}`)];
      assert.deepEqual([known.status, (known.body as Problem).code], [403, 'forbidden']);
      assert.deepEqual([missing.status, (missing.body as Problem).code], [403, 'forbidden'], 'an unknown import is refused alike: the answer tells nothing');
    }
    assert.equal((await get('manager', `/imports/${unknown}`)).status, 404);
    const patchMissing = await send('PATCH /activities/{id}', 'tech', { expect: anyone(200), target: none(), body: () => ({ status: 'completed' }) }, { id: unknown });
    assert.equal(patchMissing.status, 404);
  });

  describe('every refusal answers problem+json with its code and changes nothing', function () {
    for (const [op, cases] of Object.entries(TABLE)) {
      for (const c of cases) {
        const refused = CALLERS.filter((k) => isRefusal(c.expect[k]));
        if (refused.length === 0) continue;
        it(`${label(op, c)}: ${refused.map((k) => `${k} ${(c.expect[k] as readonly [number, string])[0]}`).join(', ')}`, async function () {
          const target = targets.get(c)!.refused;
          let tables = await fingerprint();
          for (const caller of refused) {
            const [status, code] = c.expect[caller] as readonly [number, string];
            const histories = await historyLengths(target.workflowIds);
            const reply = await send(op, caller, c, target);
            assert.equal(reply.status, status, `${label(op, c)} as ${caller}: expected ${status} ${code}, got ${reply.status} ${JSON.stringify(reply.body)}`);
            assert.match(reply.type, /^application\/problem\+json/, `${label(op, c)} as ${caller}: problem+json`);
            assert.equal((reply.body as Problem).code, code, `${label(op, c)} as ${caller}: the code`);
            const after = await fingerprint();
            assert.deepEqual(changedBetween(tables, after), [], `${label(op, c)} as ${caller}: refused, yet these tables changed`);
            assert.deepEqual(await historyLengths(target.workflowIds), histories, `${label(op, c)} as ${caller}: refused, yet the workflow moved`);
            tables = after;
          }
        });
      }
    }
  });

  describe('every permitted caller gets through', function () {
    for (const [op, cases] of Object.entries(TABLE)) {
      for (const c of cases) {
        const permitted = CALLERS.filter((k) => !isRefusal(c.expect[k]));
        if (permitted.length === 0) continue;
        it(`${label(op, c)}: ${permitted.join(', ')}`, async function () {
          for (const caller of permitted) {
            const reply = await send(op, caller, c, targets.get(c)!.permitted[caller]!);
            assert.equal(reply.status, c.expect[caller], `${label(op, c)} as ${caller}: got ${reply.status} ${JSON.stringify(reply.body)}`);
          }
        });
      }
    }
  });
});
