/**
 * No workflow waits for ever on an activity that cannot succeed. Each permanent class of failure —
 * a data exception (SQLSTATE class 22), an integrity violation no guard expected (class 23), a bug
 * (an unknown error, retried a few times first) — is forced into an activity of each workflow
 * (nurture, deal, order, unification) through the real worker's activity wrapper; the request that
 * met it is answered at once with its code, nothing is written, and the next valid request to the
 * same process succeeds. Dev server, real worker, Postgres.
 */
import assert from 'node:assert/strict';
import type { PassView } from '../../workflows/customerUnification.contract';
import { waitForUnification } from '../../api/unificationClient';
import { dealWorkflowId, getDealStateQuery } from '../../workflows/dealLifecycle.contract';
import { nurtureWorkflowId } from '../../workflows/leadNurture.contract';
import { qualifiedDeal } from '../helpers/deals';
import { expectStatus, startStack, type TestStack } from '../helpers/stack';
import { createLead } from '../helpers/fixtures';
import { today, wonOrder } from '../helpers/orders';
import { eventually } from '../helpers/temporal';
import type { InvoiceIssued, Nurture, UnificationTicket } from '../helpers/apiTypes';

const pgError = (code: string) => Object.assign(new Error(`forced SQLSTATE ${code}`), { code, severity: 'ERROR' });

const PERMANENT: Array<{ what: string; error: () => Error; code: string; status: number }> = [
  { what: 'a data exception (22021)', error: () => pgError('22021'), code: 'invalid_text', status: 422 },
  { what: 'an unexpected integrity violation (23505)', error: () => pgError('23505'), code: 'duplicate', status: 409 },
  { what: 'a bug (an unknown error)', error: () => new TypeError('forced bug'), code: 'internal_error', status: 500 },
];

describe('permanent activity failures never wedge a workflow (dev server, real worker, Postgres)', function () {
  this.timeout(240_000);
  let stack: TestStack;
  /** Errors the next calls of an activity throw, by activity name. */
  const faults: Record<string, Array<() => Error>> = {};
  const inject = (activity: string, error: () => Error, times = 1) => {
    faults[activity] = Array.from({ length: times }, () => error);
  };

  before(async function () {
    stack = await startStack({
      server: 'dev',
      wrapActivities: (activities) => Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, async (...args: unknown[]) => {
        const fault = faults[name]?.shift();
        if (fault) throw fault();
        return (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      }])),
    });
  });

  after(async function () {
    await stack?.teardown();
  });

  afterEach(function () {
    for (const name of Object.keys(faults)) delete faults[name];
  });

  for (const { what, error, code, status } of PERMANENT) {
    it(`deal: ${what} answers ${status} ${code} at once, writes nothing, and the next change succeeds`, async function () {
      const dealId = await qualifiedDeal(stack);
      // An unknown error is retried (5 attempts), so it fails on every one of them.
      inject('changeDealProducts', error, code === 'internal_error' ? 5 : 1);
      const refused = await stack.as.rep.patch(`/deals/${dealId}`, { name: 'Doorbells, forced to fail' });
      expectStatus(refused, status, code);
      assert.equal((await stack.db('deals').where({ id: dealId }).first()).name === 'Doorbells, forced to fail', false, 'nothing written');
      const next = await stack.as.rep.patch(`/deals/${dealId}`, { name: 'Doorbells for 40 offices' });
      expectStatus(next, 200);
      const state = await stack.env.client.workflow.getHandle(dealWorkflowId(dealId)).query(getDealStateQuery);
      assert.equal(state.facts.name, 'Doorbells for 40 offices');
      expectStatus(await stack.as.rep.post(`/deals/${dealId}/advance`, { to: 'develop' }), 200);
    });
  }

  it('deal: a stage move whose write fails permanently is refused, not recorded, and the deal moves on the next request', async function () {
    const dealId = await qualifiedDeal(stack);
    inject('recordDealMove', () => pgError('22003'));
    expectStatus(await stack.as.rep.post(`/deals/${dealId}/advance`, { to: 'develop' }), 422, 'number_out_of_range');
    assert.equal((await stack.db('deal_stage_moves').where({ deal_id: dealId }).count({ n: '*' }))[0].n, 0);
    expectStatus(await stack.as.rep.post(`/deals/${dealId}/advance`, { to: 'develop' }), 200);
  });

  it('order: a payment whose write fails permanently is refused at once, no payment is stored, and the next one is recorded', async function () {
    const { orderId } = await wonOrder(stack);
    expectStatus(await stack.as.rep.post(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: today() }), 200);
    inject('applyOrderChange', () => pgError('22021'));
    expectStatus(await stack.as.rep.post(`/orders/${orderId}/invoices`), 422, 'invalid_text');
    assert.equal((await stack.db('invoices').where({ order_id: orderId }).count({ n: '*' }))[0].n, 0);
    const invoice = await stack.as.rep.post<InvoiceIssued>(`/orders/${orderId}/invoices`);
    expectStatus(invoice, 201);
    inject('applyOrderChange', () => pgError('23505'));
    expectStatus(await stack.as.rep.post(`/invoices/${invoice.body.id}/pay`, { status: 'partial', paidOn: today(), amountCents: 100 }), 409, 'duplicate');
    assert.equal((await stack.db('invoice_payments').where({ invoice_id: invoice.body.id }).count({ n: '*' }))[0].n, 0);
    expectStatus(await stack.as.rep.post(`/invoices/${invoice.body.id}/pay`, { status: 'partial', paidOn: today(), amountCents: 100 }), 200);
    assert.equal((await stack.db('invoice_payments').where({ invoice_id: invoice.body.id }).count({ n: '*' }))[0].n, 1);
  });

  it('nurture: a step that fails permanently stops the sequence as step_failed (remaining steps skipped); enrolling again works', async function () {
    const lead = await createLead(stack.db, stack.users.rep.id);
    inject('performSequenceStep', () => pgError('22021'));
    expectStatus(await stack.as.rep.post(`/leads/${lead.id}/nurture`), 202);
    const stopped = await eventually(async () => {
      const state = (await stack.as.rep.get<Nurture>(`/leads/${lead.id}/nurture`)).body;
      return state.status === 'stopped' ? state : null;
    }, 'the sequence to stop');
    assert.equal(stopped.stopReason, 'step_failed');
    assert.deepEqual({ step: stopped.failure!.step, code: stopped.failure!.code }, { step: 'intro_call', code: 'invalid_text' });
    assert.deepEqual(stopped.steps.map((s: { state: string }) => s.state), ['skipped', 'skipped', 'skipped', 'skipped']);
    await eventually(async () => (await stack.db('nurture_steps').where({ lead_id: lead.id, state: 'skipped' }).count({ n: '*' }))[0].n === 4, 'the skipped steps recorded');
    await eventually(async () => (await stack.env.client.workflow.getHandle(nurtureWorkflowId(lead.id)).describe()).status.name === 'COMPLETED', 'the stopped sequence to end');
    expectStatus(await stack.as.rep.post(`/leads/${lead.id}/nurture`), 202);
    await eventually(async () => (await stack.as.rep.get<Nurture>(`/leads/${lead.id}/nurture`)).body.steps?.[0].state === 'done', 'the intro call of the new sequence');
  });

  it('unification: a phase that fails permanently fails its pass at once; the next request is served by a pass that completes', async function () {
    inject('mapCustomerRecords', () => pgError('22P02'));
    const first = await stack.as.manager.post<UnificationTicket>('/unification/runs');
    expectStatus(first, 202);
    const failed: PassView = await waitForUnification(stack.env.client, first.body, { timeoutMs: 60_000 });
    assert.equal(failed.status, 'failed');
    assert.match(failed.error ?? '', /22P02/);
    const second = await stack.as.manager.post<UnificationTicket>('/unification/runs');
    expectStatus(second, 202);
    const completed: PassView = await waitForUnification(stack.env.client, second.body, { timeoutMs: 60_000 });
    assert.equal(completed.status, 'completed');
  });
});
