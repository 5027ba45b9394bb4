/**
 * Deals for the tests: a qualified deal, and a deal driven to a stage at an exact value — all
 * through the real API of a test stack (stack.ts).
 */
import assert from 'node:assert/strict';
import type { Db } from '../../db/knex';
import type { LeadFields } from '../../db/stores/leads';
import { dealWorkflowId, getDealStateQuery, type DealStage } from '../../workflows/dealLifecycle.contract';
import { createLead } from './fixtures';
import { expectStatus, type TestStack } from './stack';
import type { Qualified, QuoteDetail } from './apiTypes';

export async function productId(db: Db, sku: string): Promise<string> {
  const row = await db('products').where({ sku }).first('id');
  assert.ok(row, `product ${sku} is in the catalog`);
  return row.id;
}

/** A lead of the rep, qualified through the API: the new deal's id. */
export async function qualifiedDeal(stack: TestStack, lead: Partial<LeadFields> = {}): Promise<string> {
  const created = await createLead(stack.db, stack.users.rep.id, lead);
  const reply = await stack.as.rep.post<Qualified>(`/leads/${created.id}/qualify`);
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return reply.body.dealId;
}


export interface DrivenDeal {
  dealId: string;
  quoteId: string;
}

/**
 * A qualified deal with one line worth exactly `valueCents`, an active quote of that line, moved
 * forward to `stage` (through Tech Check, with a passed check, when the value needs one).
 */
export async function dealAt(stack: TestStack, stage: DealStage, valueCents: number, lead: Partial<LeadFields> = {}): Promise<DrivenDeal> {
  return driveDeal(stack, await qualifiedDeal(stack, lead), stage, valueCents);
}

/** dealAt, for a deal that exists already (in Qualify, without lines). */
export async function driveDeal(stack: TestStack, dealId: string, stage: DealStage, valueCents: number): Promise<DrivenDeal> {
  const { rep, tech_consultant: tc } = stack.as;
  expectStatus(await rep.post(`/deals/${dealId}/lines`, { productId: await productId(stack.db, 'SS-300'), quantity: 1, unitPriceCents: valueCents }), 201);
  const quote = await rep.post<QuoteDetail>(`/deals/${dealId}/quotes`);
  expectStatus(quote, 201);
  expectStatus(await rep.post(`/quotes/${quote.body.id}/activate`), 200);
  const path: DealStage[] = valueCents > 2_000_000 ? ['develop', 'propose', 'tech_check', 'close'] : ['develop', 'propose', 'close'];
  for (const to of path.slice(0, path.indexOf(stage) + 1)) {
    if (to === 'close' && valueCents > 2_000_000) {
      expectStatus(await tc.post(`/deals/${dealId}/tech-checks`, { quoteId: quote.body.id, outcome: 'passed', completedAt: new Date().toISOString(), notes: 'Everything is in order.' }), 201);
    }
    expectStatus(await rep.post(`/deals/${dealId}/advance`, { to }), 200);
  }
  return { dealId, quoteId: quote.body.id };
}

/** What Postgres and the workflow each say the deal's stage and status are. */
export async function stageEverywhere(stack: TestStack, dealId: string): Promise<{ db: [string, string, number]; workflow: [string, string, number] }> {
  const row = await stack.db('deals').where({ id: dealId }).first('stage', 'status', 'move_seq');
  const state = await stack.env.client.workflow.getHandle(dealWorkflowId(dealId)).query(getDealStateQuery);
  return { db: [row.stage, row.status, row.move_seq], workflow: [state.stage, state.status, state.moveSeq] };
}

export const techCheckBody = (quoteId: string, outcome: 'passed' | 'failed' = 'passed', notes = 'Everything is in order.') => ({
  quoteId, outcome, completedAt: new Date().toISOString(), notes,
});
