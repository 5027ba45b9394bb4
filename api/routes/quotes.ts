/**
 * Quotes (SPEC "Quotes, orders, invoices", the quote part). Drafts are created and edited here
 * directly (they change nothing the stage rules judge); activating, revising and closing go to the
 * deal's workflow, because they change which quote the Tech Check gate looks at.
 */
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { DealConfig } from '../../config';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { DealStore, assertLineMoney } from '../../db/stores/deals';
import { ProductStore } from '../../db/stores/products';
import { QUOTE_CLOSE_REASONS, QuoteStore, type Quote } from '../../db/stores/quotes';
import type { User } from '../../db/stores/users';
import { InvalidFieldError } from '../../domain/rejection';
import { changeQuoteUpdate, type QuoteChange } from '../../workflows/dealLifecycle.contract';
import { WORKERS, assertOwnerOrSupervisor } from '../auth';
import { route, type RouteSpec } from '../http';
import { idFor, type Operation } from '../idempotency';
import { assertNotAfterToday, idParams, isoDate, optionalText, text } from '../schemas';
import { dealProcess } from '../processes/deals';
import { addLineBody, lineParams as lineParamsOf, patchLineBody, sellableProduct } from '../productLines';
import { dealViews, processSchema, processOf, quoteDetailSchema, quoteSchema } from '../views/deals';

const lineParams = lineParamsOf('quote');

const createBody = z.strictObject({
  name: optionalText(200).describe('Defaults to the deal’s name'),
  description: optionalText(5000),
  validUntil: isoDate().nullable().optional(),
});

const patchBody = z
  .strictObject({ name: text(200).optional(), description: optionalText(5000), validUntil: isoDate().nullable().optional() })
  .refine((v) => Object.keys(v).length > 0, { message: 'name at least one field to change', params: { code: 'empty_patch' } });

const closeBody = z.strictObject({
  reason: z.enum(QUOTE_CLOSE_REASONS),
  closeDate: isoDate().nullable().optional()
    .describe('The date the quote was closed, `YYYY-MM-DD`: not in the future (today in any time zone is accepted), not before the quote was created. Defaults to today in UTC'),
  description: optionalText(2000).describe('Why it was closed (at most 2000 characters)'),
  closeDeal: z.boolean().optional().describe('Also close the deal as lost (reason `quote_<reason>`)'),
});

/**
 * A close date happened: not later than today anywhere (400 `in_future`), not before the quote
 * existed (400 `before_quote_created`), both judged leniently across time zones since the API
 * does not know the user's: the earliest date is the creation day in the zone furthest behind (UTC−12).
 */
function assertCloseDate(quote: Quote, closeDate: string): void {
  assertNotAfterToday('closeDate', closeDate);
  const earliest = new Date(Date.parse(quote.createdAt) - 12 * 3_600_000).toISOString().slice(0, 10);
  if (closeDate < earliest) throw new InvalidFieldError('closeDate', 'before_quote_created', `closeDate cannot be before the quote was created (${earliest})`);
}

export const quoteChangedSchema = quoteDetailSchema.extend({ process: processSchema });

export interface QuoteRoutesDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  log: Logger;
  deals?: DealConfig;
}

export function quoteRoutes(deps: QuoteRoutesDeps): RouteSpec[] {
  const { db } = deps;
  const deals = new DealStore(db);
  const quotes = new QuoteStore(db);
  const products = new ProductStore(db);
  const views = dealViews(db);
  const dealFlow = dealProcess(deps);
  const params = idParams('quote');
  const ctx = (user: User, requestId: string) => ({ actor: { type: 'user' as const, id: user.id }, userId: user.id, requestId });

  /**
   * The quote, if the caller may change it: the deal's owner, a manager or an admin. Whether the
   * change is allowed now is judged where it is made: by the deal's process (activate, revise,
   * close) or by the store on the rows (a draft's edits, on an open deal only).
   */
  async function changeable(user: User, id: string): Promise<Quote> {
    const quote = await quotes.require(id);
    const deal = await deals.require(quote.dealId);
    assertOwnerOrSupervisor(user, deal.ownerId, 'deal');
    return quote;
  }

  function transition(user: User, quote: Quote, change: QuoteChange, requestId: string, operation: Operation, status = 200) {
    return dealFlow.update(quote.dealId, changeQuoteUpdate, { change, by: user.id, requestId }, operation.operationKey, async (result) => {
      const shown = change.kind === 'revise' ? result.createdId! : quote.id;
      return { status, body: { ...(await views.quoteDetail(shown)), process: processOf(result.state) } };
    });
  }

  return [
    route({
      method: 'post', path: '/deals/:id/quotes', tag: 'Quotes', summary: 'Create a draft quote prefilled from the deal',
      description: 'The draft copies the deal’s customer and product lines (products, quantities, prices, discounts) and gets a new quote number (revision 1).',
      roles: WORKERS, params: idParams('deal'), body: createBody.optional(), idempotent: true,
      responses: { 201: { description: 'The draft', schema: quoteDetailSchema }, 404: { description: 'No such deal' }, 409: { description: '`deal_closed`' } },
      async handler({ operation, user, params: { id }, body, requestId }) {
        const deal = await deals.require(id);
        assertOwnerOrSupervisor(user, deal.ownerId, 'deal');
        const quote = await quotes.create(id, body ?? {}, ctx(user, requestId), idFor(operation, 'quote'));
        return { status: 201, body: await views.quoteDetail(quote.id), headers: { Location: `/quotes/${quote.id}` } };
      },
    }),
    route({
      method: 'get', path: '/deals/:id/quotes', tag: 'Quotes', summary: 'A deal’s quotes, every revision, oldest first', params: idParams('deal'),
      responses: { 200: { description: 'The quotes', schema: z.object({ data: z.array(quoteSchema) }) }, 404: { description: 'No such deal' } },
      async handler({ params: { id } }) {
        await deals.require(id);
        return { status: 200, body: { data: await quotes.forDeal(id) } };
      },
    }),
    route({
      method: 'get', path: '/quotes/:id', tag: 'Quotes', summary: 'A quote with its lines and the Tech Checks of this revision', params,
      responses: { 200: { description: 'The quote', schema: quoteDetailSchema }, 404: { description: 'No such quote' } },
      async handler({ params: { id } }) {
        return { status: 200, body: await views.quoteDetail(id) };
      },
    }),
    route({
      method: 'patch', path: '/quotes/:id', tag: 'Quotes', summary: 'Edit a draft quote',
      roles: WORKERS, params, body: patchBody,
      responses: { 200: { description: 'The draft', schema: quoteDetailSchema }, 404: { description: 'No such quote' }, 409: { description: '`quote_read_only`: only drafts are editable' } },
      async handler({ user, params: { id }, body, requestId }) {
        await changeable(user, id);
        await quotes.edit(id, body, ctx(user, requestId));
        return { status: 200, body: await views.quoteDetail(id) };
      },
    }),
    route({
      method: 'post', path: '/quotes/:id/lines', tag: 'Quotes', summary: 'Add a line to a draft quote',
      roles: WORKERS, params, body: addLineBody,
      responses: { 201: { description: 'The draft', schema: quoteDetailSchema }, 404: { description: 'No such quote' }, 409: { description: '`quote_read_only`, `product_inactive`' } },
      async handler({ operation, user, params: { id }, body, requestId }) {
        await changeable(user, id);
        const product = await sellableProduct(products, body.productId);
        assertLineMoney(body.quantity, body.unitPriceCents ?? product.listPriceCents, body.discountCents ?? 0);
        await quotes.addLine(id, body, ctx(user, requestId), idFor(operation, 'quote_line'));
        return { status: 201, body: await views.quoteDetail(id) };
      },
    }),
    route({
      method: 'patch', path: '/quotes/:id/lines/:lineId', tag: 'Quotes', summary: 'Change a line of a draft quote',
      roles: WORKERS, params: lineParams, body: patchLineBody,
      responses: { 200: { description: 'The draft', schema: quoteDetailSchema }, 404: { description: 'No such quote or line' }, 409: { description: '`quote_read_only`' } },
      async handler({ user, params: { id, lineId }, body, requestId }) {
        await changeable(user, id);
        await quotes.updateLine(id, lineId, body, ctx(user, requestId));
        return { status: 200, body: await views.quoteDetail(id) };
      },
    }),
    route({
      method: 'delete', path: '/quotes/:id/lines/:lineId', tag: 'Quotes', summary: 'Remove a line from a draft quote',
      roles: WORKERS, params: lineParams,
      responses: { 200: { description: 'The draft', schema: quoteDetailSchema }, 404: { description: 'No such quote or line' }, 409: { description: '`quote_read_only`' } },
      async handler({ user, params: { id, lineId }, requestId }) {
        await changeable(user, id);
        await quotes.removeLine(id, lineId, ctx(user, requestId));
        return { status: 200, body: await views.quoteDetail(id) };
      },
    }),
    route({
      method: 'post', path: '/quotes/:id/activate', tag: 'Quotes', summary: 'Activate a draft (it is sent to the customer and becomes read-only)',
      roles: WORKERS, params, idempotent: true,
      responses: {
        200: { description: 'The active quote', schema: quoteChangedSchema }, 404: { description: 'No such quote' },
        409: { description: '`quote_not_draft`, `active_quote_exists`, `quote_lines_required`, `deal_closed`; a deal in Close whose gate closes goes back to Tech Check' },
      },
      async handler({ operation, user, params: { id }, requestId }) {
        const quote = await changeable(user, id);
        return transition(user, quote, { kind: 'activate', quoteId: id }, requestId, operation);
      },
    }),
    route({
      method: 'post', path: '/quotes/:id/revise', tag: 'Quotes', summary: 'Revise the active quote: an editable copy with revision + 1; the old one is closed as `revised`',
      description: 'A Tech Check covers only the revision it reviewed: above $20,000.00 the new revision needs its own once activated.',
      roles: WORKERS, params, idempotent: true,
      responses: { 201: { description: 'The new draft revision', schema: quoteChangedSchema }, 404: { description: 'No such quote' }, 409: { description: '`quote_not_active`, `deal_closed`' } },
      async handler({ operation, user, params: { id }, requestId }) {
        const quote = await changeable(user, id);
        return transition(user, quote, { kind: 'revise', quoteId: id }, requestId, operation, 201);
      },
    }),
    route({
      method: 'post', path: '/quotes/:id/close', tag: 'Quotes', summary: 'Close a draft or active quote as lost or canceled, optionally closing the deal as lost',
      description: 'Records the close date (`closeDate`, today in UTC when omitted) and description with the reason; `closedAt` and `closedBy` say when and by whom it was recorded.',
      roles: WORKERS, params, body: closeBody, idempotent: true,
      responses: {
        200: { description: 'The closed quote', schema: quoteChangedSchema }, 400: { description: 'A `closeDate` in the future or before the quote was created (`errors[].code` `in_future`, `before_quote_created`)' },
        404: { description: 'No such quote' }, 409: { description: '`quote_not_open`, `deal_closed`' },
      },
      async handler({ operation, user, params: { id }, body, requestId }) {
        const quote = await changeable(user, id);
        if (body.closeDate) assertCloseDate(quote, body.closeDate);
        const change: QuoteChange = { kind: 'close', quoteId: id, reason: body.reason, description: body.description ?? null, closeDeal: body.closeDeal ?? false };
        // Absent stays absent (not null): the Update input of a close without a date is what it was before closeDate existed.
        if (body.closeDate) change.closeDate = body.closeDate;
        return transition(user, quote, change, requestId, operation);
      },
    }),
  ];
}
