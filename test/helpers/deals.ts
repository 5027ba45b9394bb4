/**
 * Deals for the tests: a whole stack per file (Temporal server, Postgres database, worker, API), a
 * qualified deal, and a deal driven to a stage at an exact value — all through the real API.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createApp } from '../../api/app';
import { createApiServer } from '../../api/server';
import { loadConfig, type DealConfig, type OrderConfig } from '../../config';
import type { Db } from '../../db/knex';
import type { LeadFields } from '../../db/stores/leads';
import type { SalesWorkerOptions } from '../../worker/worker';
import { dealWorkflowId, getDealStateQuery, type DealStage } from '../../workflows/dealLifecycle.contract';
import { createTestDatabase, type TestDatabase } from './db';
import { createLead, createUsers, type TestUsers } from './fixtures';
import { client, type Reply } from './http';
import { devServerEnv, startTestWorker, testLog, timeSkippingEnv, uniqueTaskQueue, workflowBundle, type RunningTestWorker } from './temporal';

export type ApiClient = ReturnType<typeof client>;

export function apiClient(url: string, token: string): ApiClient {
  return client(url, token);
}

export interface DealStack {
  env: TestWorkflowEnvironment;
  database: TestDatabase;
  db: Db;
  users: TestUsers;
  taskQueue: string;
  url: string;
  worker: RunningTestWorker;
  as: Record<'rep' | 'otherRep' | 'tech_consultant' | 'manager' | 'admin', ApiClient>;
  teardown(): Promise<void>;
}

/** Another API over the stack's Temporal, database and task queue (e.g. with other deal settings). */
export async function startExtraApi(stack: Pick<DealStack, 'env' | 'db' | 'taskQueue'>, deals?: DealConfig, orders?: OrderConfig): Promise<{ url: string; close(): Promise<void> }> {
  const server = createApiServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on('request', createApp({ db: stack.db, temporal: stack.env.client, taskQueue: stack.taskQueue, log: testLog, publicUrl: url, deals, customers: loadConfig().customers, orders }));
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** One Temporal server, database, worker and API for a test file. */
export async function startDealStack(options: { server: 'dev' | 'time-skipping'; deals?: DealConfig; wrapActivities?: SalesWorkerOptions['wrapActivities'] }): Promise<DealStack> {
  const [env, database] = await Promise.all([options.server === 'dev' ? devServerEnv() : timeSkippingEnv(), createTestDatabase(), workflowBundle()]);
  const users = await createUsers(database.db);
  const taskQueue = uniqueTaskQueue('deals');
  const worker = await startTestWorker(env, database.db, taskQueue, options.wrapActivities ? { wrapActivities: options.wrapActivities } : {});
  const api = await startExtraApi({ env, db: database.db, taskQueue }, options.deals);
  const url = api.url;
  const as = {
    rep: apiClient(url, users.rep.token),
    otherRep: apiClient(url, users.otherRep.token),
    tech_consultant: apiClient(url, users.tech_consultant.token),
    manager: apiClient(url, users.manager.token),
    admin: apiClient(url, users.admin.token),
  };
  return {
    env, database, db: database.db, users, taskQueue, url, worker, as,
    async teardown() {
      await api.close();
      await worker.stop();
      await env.teardown();
      await database.drop();
    },
  };
}

export async function productId(db: Db, sku: string): Promise<string> {
  const row = await db('products').where({ sku }).first('id');
  assert.ok(row, `product ${sku} is in the catalog`);
  return row.id;
}

/** A lead of the rep, qualified through the API: the new deal's id. */
export async function qualifiedDeal(stack: DealStack, lead: Partial<LeadFields> = {}): Promise<string> {
  const created = await createLead(stack.db, stack.users.rep.id, lead);
  const reply = await stack.as.rep.post(`/leads/${created.id}/qualify`);
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return reply.body.dealId;
}

export function expectStatus(reply: Reply, status: number, code?: string): void {
  assert.equal(reply.status, status, `expected ${status}${code ? ` ${code}` : ''}, got ${reply.status}: ${JSON.stringify(reply.body)}`);
  if (code) assert.equal(reply.body.code, code);
}

export interface DrivenDeal {
  dealId: string;
  quoteId: string;
}

/**
 * A qualified deal with one line worth exactly `valueCents`, an active quote of that line, moved
 * forward to `stage` (through Tech Check, with a passed check, when the value needs one).
 */
export async function dealAt(stack: DealStack, stage: DealStage, valueCents: number, lead: Partial<LeadFields> = {}): Promise<DrivenDeal> {
  return driveDeal(stack, await qualifiedDeal(stack, lead), stage, valueCents);
}

/** dealAt, for a deal that exists already (in Qualify, without lines). */
export async function driveDeal(stack: DealStack, dealId: string, stage: DealStage, valueCents: number): Promise<DrivenDeal> {
  const { rep, tech_consultant: tc } = stack.as;
  expectStatus(await rep.post(`/deals/${dealId}/lines`, { productId: await productId(stack.db, 'SS-300'), quantity: 1, unitPriceCents: valueCents }), 201);
  const quote = await rep.post(`/deals/${dealId}/quotes`);
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
export async function stageEverywhere(stack: DealStack, dealId: string): Promise<{ db: [string, string, number]; workflow: [string, string, number] }> {
  const row = await stack.db('deals').where({ id: dealId }).first('stage', 'status', 'move_seq');
  const state = await stack.env.client.workflow.getHandle(dealWorkflowId(dealId)).query(getDealStateQuery);
  return { db: [row.stage, row.status, row.move_seq], workflow: [state.stage, state.status, state.moveSeq] };
}

export const techCheckBody = (quoteId: string, outcome: 'passed' | 'failed' = 'passed', notes = 'Everything is in order.') => ({
  quoteId, outcome, completedAt: new Date().toISOString(), notes,
});
