/**
 * Deals (SPEC "Deal stages"): read, list, edit, product lines, stage moves, close (the timeline:
 * timelines.ts). Reads
 * come from Postgres; every change goes to the deal's workflow as an Update, which answers at once:
 * 200 with the new state, or 409 with the rule's code, having written nothing.
 */
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { DealConfig } from '../../config';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { MAX_AMOUNT_CENTS } from '../../domain/money';
import { NotFoundError } from '../../domain/rejection';
import { DealStore, assertLineMoney, type Deal } from '../../db/stores/deals';
import { ProductStore } from '../../db/stores/products';
import type { User } from '../../db/stores/users';
import {
  DEAL_STAGES,
  DEAL_STATUSES,
  advanceDealUpdate,
  changeDealUpdate,
  closeDealUpdate,
  dealWorkflowId,
  type DealProductChange,
  type DealUpdateResult,
} from '../../workflows/dealLifecycle.contract';
import { WORKERS, assertMayAssignOwner, assertOwnerOrSupervisor } from '../auth';
import { route, type RouteSpec } from '../http';
import type { Operation } from '../idempotency';
import { cents, queryInt, csv, idParams, optionalText, pageOf, paging, text } from '../schemas';
import { dealProcess } from '../processes/deals';
import { addLineBody, lineParams as lineParamsOf, patchLineBody, sellableProduct } from '../productLines';
import { dealDetailSchema, dealSchema, dealUpdatedSchema, dealViews, processOf } from '../views/deals';

const lineParams = lineParamsOf('deal');

const patchDealBody = z
  .strictObject({
    name: text(200).optional(),
    estimatedValueCents: cents().nullable().optional().describe('Only while the deal has no product lines'),
    ownerId: z.uuid().optional().describe('Managers and admins only'),
  })
  .refine((v) => Object.keys(v).length > 0, { message: 'name at least one field to change', params: { code: 'empty_patch' } });

const advanceBody = z.strictObject({ to: z.enum(DEAL_STAGES) });

const closeBody = z
  .strictObject({
    outcome: z.enum(['won', 'lost']),
    reason: optionalText(500).describe('Required to close as lost'),
    description: optionalText(2000),
    actualRevenueCents: cents().optional().describe('Won only; defaults to the active quote’s total'),
  })
  .superRefine((v, ctx) => {
    if (v.outcome === 'lost' && !v.reason) ctx.addIssue({ code: 'custom', path: ['reason'], message: 'a lost deal needs a reason', params: { code: 'required' } });
    if (v.outcome === 'lost' && v.actualRevenueCents !== undefined) ctx.addIssue({ code: 'custom', path: ['actualRevenueCents'], message: 'only a won deal has actual revenue', params: { code: 'not_allowed' } });
  });

const listQuery = z.object({
  stage: csv(DEAL_STAGES).optional().describe('Comma-separated stages'),
  status: csv(DEAL_STATUSES).optional().describe('Comma-separated: open, won, lost'),
  ownerId: z.uuid().optional(),
  accountId: z.uuid().optional(),
  contactId: z.uuid().optional(),
  minValueCents: queryInt(0, MAX_AMOUNT_CENTS).optional(),
  maxValueCents: queryInt(0, MAX_AMOUNT_CENTS).optional(),
  ...paging,
});

const REFUSALS = '`deal_closed`, `already_in_stage`, `stage_skipped`, `products_required`, `active_quote_required`, `tech_check_required`, `tech_check_not_required`, `close_stage_required`';

export interface DealRoutesDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  log: Logger;
  deals?: DealConfig;
}

export function dealRoutes(deps: DealRoutesDeps): RouteSpec[] {
  const { db } = deps;
  const deals = new DealStore(db);
  const products = new ProductStore(db);
  const views = dealViews(db);
  const dealFlow = dealProcess(deps);
  const params = idParams('deal');

  /** The deal, if the caller may change it: its owner, a manager or an admin (its process judges the change). */
  async function changeable(user: User, id: string): Promise<Deal> {
    const deal = await deals.require(id);
    assertOwnerOrSupervisor(user, deal.ownerId, 'deal');
    return deal;
  }

  /** The answer to a change the deal's process made: the deal as it is now. */
  function answer(dealId: string, status = 200) {
    return async (result: DealUpdateResult) => {
      const detail = await views.dealDetail(dealId);
      return { status, body: { ...detail, process: processOf(result.state), createdId: result.createdId } };
    };
  }

  function change(user: User, dealId: string, change: DealProductChange, requestId: string, operation: Operation, status = 200) {
    return dealFlow.update(dealId, changeDealUpdate, { change, by: user.id, requestId }, operation.operationKey, answer(dealId, status));
  }

  return [
    route({
      method: 'get', path: '/deals', tag: 'Deals', summary: 'List deals (newest first), by stage, status, owner and value',
      query: listQuery,
      responses: { 200: { description: 'A page of deals', schema: pageOf(dealSchema) } },
      async handler({ query }) {
        const { limit, offset, ...filter } = query;
        const { items, total } = await deals.list(filter, { limit, offset });
        return { status: 200, body: { data: items.map((d) => ({ ...d, workflowId: dealWorkflowId(d.id) })), page: { limit, offset, total } } };
      },
    }),
    route({
      method: 'get', path: '/deals/:id', tag: 'Deals', summary: 'A deal: stage, value, Tech Check, quotes, moves, and the moves allowed now',
      params,
      responses: { 200: { description: 'The deal', schema: dealDetailSchema }, 404: { description: 'No such deal' } },
      async handler({ params: { id } }) {
        return { status: 200, body: await views.dealDetail(id) };
      },
    }),
    route({
      method: 'patch', path: '/deals/:id', tag: 'Deals', summary: 'Rename, set the estimate, or reassign the owner',
      description: 'The estimate is the deal’s value only while it has no product lines (409 `value_from_products` otherwise). Reassigning needs a manager or an admin.',
      roles: WORKERS, params, body: patchDealBody, idempotent: true,
      responses: { 200: { description: 'The changed deal', schema: dealUpdatedSchema }, 404: { description: 'No such deal' }, 409: { description: '`deal_closed`, `value_from_products`' } },
      async handler({ operation, user, params: { id }, body, requestId }) {
        const deal = await changeable(user, id);
        assertMayAssignOwner(user, body.ownerId, deal.ownerId);
        return change(user, id, { kind: 'edit', ...body }, requestId, operation);
      },
    }),
    route({
      method: 'post', path: '/deals/:id/lines', tag: 'Deals', summary: 'Add a product line',
      roles: WORKERS, params, body: addLineBody, idempotent: true,
      responses: { 201: { description: 'The deal with its new line (`createdId`)', schema: dealUpdatedSchema }, 404: { description: 'No such deal' }, 409: { description: '`deal_closed`, `product_inactive`; a deal in Close whose value passes the threshold goes back to Tech Check' } },
      async handler({ operation, user, params: { id }, body, requestId }) {
        await changeable(user, id);
        const product = await sellableProduct(products, body.productId);
        assertLineMoney(body.quantity, body.unitPriceCents ?? product.listPriceCents, body.discountCents ?? 0);
        return change(user, id, { kind: 'add_line', ...body }, requestId, operation, 201);
      },
    }),
    route({
      method: 'patch', path: '/deals/:id/lines/:lineId', tag: 'Deals', summary: 'Change a product line’s quantity, price or discount',
      roles: WORKERS, params: lineParams, body: patchLineBody, idempotent: true,
      responses: { 200: { description: 'The deal', schema: dealUpdatedSchema }, 404: { description: 'No such deal or line' }, 409: { description: '`deal_closed`' } },
      async handler({ operation, user, params: { id, lineId }, body, requestId }) {
        await changeable(user, id);
        const line = await deals.line(id, lineId);
        if (!line) throw new NotFoundError('deal_line', lineId);
        assertLineMoney(body.quantity ?? line.quantity, body.unitPriceCents ?? line.unitPriceCents, body.discountCents ?? line.discountCents);
        return change(user, id, { kind: 'update_line', lineId, ...body }, requestId, operation);
      },
    }),
    route({
      method: 'delete', path: '/deals/:id/lines/:lineId', tag: 'Deals', summary: 'Remove a product line',
      roles: WORKERS, params: lineParams, idempotent: true,
      responses: { 200: { description: 'The deal', schema: dealUpdatedSchema }, 404: { description: 'No such deal or line' }, 409: { description: '`deal_closed`' } },
      async handler({ operation, user, params: { id, lineId }, requestId }) {
        // No existence check first: the process answers deal_line_not_found, and a retried removal
        // that already happened gets its first answer back (same Update id) instead of a 404.
        await changeable(user, id);
        return change(user, id, { kind: 'remove_line', lineId }, requestId, operation);
      },
    }),
    route({
      method: 'post', path: '/deals/:id/advance', tag: 'Deals', summary: 'Move the deal to another stage',
      description: `Forward one stage at a time (Propose goes to Tech Check above $20,000.00, else straight to Close); back to any earlier stage. Refusals are 409 with ${REFUSALS}; \`blockedMoves\` on the deal says which apply now.`,
      roles: WORKERS, params, body: advanceBody, idempotent: true,
      responses: { 200: { description: 'The moved deal', schema: dealUpdatedSchema }, 404: { description: 'No such deal' }, 409: { description: 'The move is refused: the code names the rule' } },
      async handler({ operation, user, params: { id }, body, requestId }) {
        await changeable(user, id);
        return dealFlow.update(id, advanceDealUpdate, { to: body.to, by: user.id, requestId }, operation.operationKey, answer(id));
      },
    }),
    route({
      method: 'post', path: '/deals/:id/close', tag: 'Deals', summary: 'Close the deal as won (from Close) or lost (from any stage, with a reason)',
      description: 'Won needs the deal in Close (`close_stage_required`), an active quote (`active_quote_required`) and, above $20,000.00, a passed Tech Check of that quote revision (`tech_check_required`).',
      roles: WORKERS, params, body: closeBody, idempotent: true,
      responses: { 200: { description: 'The closed deal', schema: dealUpdatedSchema }, 404: { description: 'No such deal' }, 409: { description: '`deal_closed`, `close_stage_required`, `active_quote_required`, `tech_check_required`' } },
      async handler({ operation, user, params: { id }, body, requestId }) {
        await changeable(user, id);
        return dealFlow.update(
          id, closeDealUpdate,
          { outcome: body.outcome, reason: body.reason ?? null, description: body.description ?? null, actualRevenueCents: body.actualRevenueCents ?? null, by: user.id, requestId },
          operation.operationKey, answer(id),
        );
      },
    }),
  ];
}
