/**
 * The deal lifecycle through the real API, with a real worker on a Temporal dev server and a real
 * Postgres: every stage rule on both sides of the Tech Check threshold ($20,000.00 = 2,000,000
 * cents needs none; 2,000,001 cents needs one), quotes, Tech Checks, reading, and bad input.
 */
import assert from 'node:assert/strict';
import { DealValueKey } from '../../workflows/searchAttributes';
import { countRows } from '../helpers/db';
import type { Reply } from '../helpers/http';
import { dealAt, productId, qualifiedDeal, stageEverywhere, techCheckBody } from '../helpers/deals';
import { expectStatus, startStack, type TestStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';
import type { Deal, DealDetail, DealUpdated, List, Page, Problem, Product, Quote, QuoteChanged, QuoteDetail, TechCheck, TechCheckRecorded, Timeline } from '../helpers/apiTypes';

const AT_THRESHOLD = 2_000_000;
const ABOVE_THRESHOLD = 2_000_001;
const WRITTEN = ['deals', 'deal_lines', 'deal_stage_moves', 'quotes', 'quote_lines', 'tech_checks', 'activities', 'audit_log', 'deal_changes'];

describe('deals through the API (dev server, real worker, Postgres)', function () {
  let stack: TestStack;
  let systemId: string;
  let doorbellId: string;

  before(async function () {
    stack = await startStack({ server: 'dev' });
    systemId = await productId(stack.db, 'SS-300');
    doorbellId = await productId(stack.db, 'DB-100');
  });

  after(async function () {
    await stack?.teardown();
  });

  /** Runs `call`, which must be refused with `status`/`code`, and checks nothing was written. */
  async function refusedWithoutWriting(call: () => Promise<Reply<unknown>>, status: number, code: string, dealId?: string): Promise<void> {
    const before = await countRows(stack.db, WRITTEN);
    const deal = dealId ? await stack.db('deals').where({ id: dealId }).first() : null;
    const reply = await call();
    expectStatus(reply, status, code);
    assert.equal(reply.headers.get('content-type')?.split(';')[0], 'application/problem+json');
    assert.deepEqual(await countRows(stack.db, WRITTEN), before, 'a refused request writes nothing');
    if (dealId) assert.deepEqual(await stack.db('deals').where({ id: dealId }).first(), deal, 'the deal row is unchanged');
  }

  const advance = (dealId: string, to: string, as = stack.as.rep) => as.post<DealUpdated>(`/deals/${dealId}/advance`, { to });

  describe('stage rules', function () {
    it('a new deal starts in qualify; each move is recorded with from, to, by and at, in the database and the workflow alike', async function () {
      const dealId = await qualifiedDeal(stack);
      const fresh = await stack.as.rep.get<DealDetail>(`/deals/${dealId}`);
      assert.equal(fresh.body.stage, 'qualify');
      assert.equal(fresh.body.status, 'open');
      assert.equal(fresh.body.workflowId, `deal-${dealId}`);

      const moved = await advance(dealId, 'develop');
      expectStatus(moved, 200);
      assert.equal(moved.body.stage, 'develop');
      assert.deepEqual(moved.body.process, { workflowId: `deal-${dealId}`, stage: 'develop', status: 'open', moveSeq: 1 });
      assert.equal(moved.body.moves.length, 1);
      const [move] = moved.body.moves;
      assert.deepEqual([move.from, move.to, move.by, move.seq], ['qualify', 'develop', stack.users.rep.id, 1]);
      assert.ok(Math.abs(Date.parse(move.at) - Date.now()) < 60_000, 'the move is stamped with when it happened');
      assert.deepEqual(await stageEverywhere(stack, dealId), { db: ['develop', 'open', 1], workflow: ['develop', 'open', 1] });
      const audit = await stack.db('audit_log').where({ entity_type: 'deal', entity_id: dealId, action: 'deal.stage_moved' });
      assert.equal(audit.length, 1);
      assert.deepEqual([audit[0].actor_type, audit[0].actor_id], ['user', stack.users.rep.id]);
    });

    it('refuses to leave Develop without a product line (products_required), writing nothing', async function () {
      const dealId = await qualifiedDeal(stack);
      expectStatus(await advance(dealId, 'develop'), 200);
      await refusedWithoutWriting(() => advance(dealId, 'propose'), 409, 'products_required', dealId);
      expectStatus(await stack.as.rep.post(`/deals/${dealId}/lines`, { productId: doorbellId, quantity: 2 }), 201);
      expectStatus(await advance(dealId, 'propose'), 200);
    });

    it('refuses to leave Propose without an active quote (active_quote_required); a draft is not enough', async function () {
      const dealId = await qualifiedDeal(stack);
      expectStatus(await stack.as.rep.post(`/deals/${dealId}/lines`, { productId: doorbellId, quantity: 10 }), 201);
      expectStatus(await advance(dealId, 'develop'), 200);
      expectStatus(await advance(dealId, 'propose'), 200);
      await refusedWithoutWriting(() => advance(dealId, 'close'), 409, 'active_quote_required', dealId);
      const draft = await stack.as.rep.post<QuoteDetail>(`/deals/${dealId}/quotes`);
      await refusedWithoutWriting(() => advance(dealId, 'close'), 409, 'active_quote_required', dealId);
      expectStatus(await stack.as.rep.post(`/quotes/${draft.body.id}/activate`), 200);
      expectStatus(await advance(dealId, 'close'), 200);
    });

    it('moves forward one stage at a time (stage_skipped) and back to any earlier stage', async function () {
      const dealId = await qualifiedDeal(stack);
      await refusedWithoutWriting(() => advance(dealId, 'propose'), 409, 'stage_skipped', dealId);
      await refusedWithoutWriting(() => advance(dealId, 'qualify'), 409, 'already_in_stage', dealId);
      expectStatus(await advance(dealId, 'develop'), 200);
      expectStatus(await advance(dealId, 'qualify'), 200);
    });

    it('a deal of exactly $20,000.00 needs no Tech Check: it goes from Propose to Close and is won', async function () {
      const { dealId } = await dealAt(stack, 'propose', AT_THRESHOLD);
      const deal = await stack.as.rep.get<DealDetail>(`/deals/${dealId}`);
      assert.equal(deal.body.techCheck.required, false);
      assert.equal(deal.body.techCheck.reason, 'value_at_or_below_threshold');
      await refusedWithoutWriting(() => advance(dealId, 'tech_check'), 409, 'tech_check_not_required', dealId);
      expectStatus(await advance(dealId, 'close'), 200);
      const won = await stack.as.rep.post<DealUpdated>(`/deals/${dealId}/close`, { outcome: 'won' });
      expectStatus(won, 200);
      assert.equal(won.body.status, 'won');
      assert.equal(won.body.actualRevenueCents, AT_THRESHOLD, 'actual revenue defaults to the active quote total');
      assert.deepEqual(won.body.moves.map((m) => m.to), ['develop', 'propose', 'close', 'won']);
    });

    it('a deal of $20,000.01 must pass through Tech Check: Propose → Close is refused (tech_check_required)', async function () {
      const { dealId } = await dealAt(stack, 'propose', ABOVE_THRESHOLD);
      const deal = await stack.as.rep.get<DealDetail>(`/deals/${dealId}`);
      assert.equal(deal.body.techCheck.required, true);
      assert.equal(deal.body.techCheck.reason, 'value_above_threshold');
      assert.equal(deal.body.techCheck.judgedValueCents, ABOVE_THRESHOLD);
      assert.deepEqual(deal.body.allowedMoves, ['qualify', 'develop', 'tech_check', 'lost']);
      assert.deepEqual(deal.body.blockedMoves.map((b) => [b.to, b.code]), [['close', 'tech_check_required'], ['won', 'close_stage_required']]);
      await refusedWithoutWriting(() => advance(dealId, 'close'), 409, 'tech_check_required', dealId);
      expectStatus(await advance(dealId, 'tech_check'), 200);
    });

    it('refuses to let a $20,000.01 deal leave Tech Check until a passed check exists for the active quote revision', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      await refusedWithoutWriting(() => advance(dealId, 'close'), 409, 'tech_check_required', dealId);
      expectStatus(await stack.as.tech_consultant.post(`/deals/${dealId}/tech-checks`, techCheckBody(quoteId)), 201);
      const moved = await advance(dealId, 'close');
      expectStatus(moved, 200);
      assert.equal(moved.body.techCheck.satisfied, true);
      expectStatus(await stack.as.rep.post(`/deals/${dealId}/close`, { outcome: 'won' }), 200);
    });

    it('closes as won only from Close (close_stage_required)', async function () {
      const { dealId } = await dealAt(stack, 'propose', AT_THRESHOLD);
      await refusedWithoutWriting(() => stack.as.rep.post(`/deals/${dealId}/close`, { outcome: 'won' }), 409, 'close_stage_required', dealId);
      const qualifying = await qualifiedDeal(stack);
      await refusedWithoutWriting(() => stack.as.rep.post(`/deals/${qualifying}/close`, { outcome: 'won' }), 409, 'close_stage_required', qualifying);
    });

    it('a value that rises above the threshold in Close sends the deal back to Tech Check', async function () {
      const { dealId } = await dealAt(stack, 'close', AT_THRESHOLD);
      const raised = await stack.as.rep.post<DealUpdated>(`/deals/${dealId}/lines`, { productId: doorbellId, quantity: 1, unitPriceCents: 1 });
      expectStatus(raised, 201);
      assert.equal(raised.body.valueCents, ABOVE_THRESHOLD);
      assert.equal(raised.body.stage, 'tech_check');
      assert.equal(raised.body.process.stage, 'tech_check');
      const sendBack = raised.body.moves.at(-1)!;
      assert.deepEqual([sendBack.from, sendBack.to, sendBack.reason, sendBack.by], ['close', 'tech_check', 'tech_check_required', stack.users.rep.id]);
      await refusedWithoutWriting(() => stack.as.rep.post(`/deals/${dealId}/close`, { outcome: 'won' }), 409, 'close_stage_required', dealId);
      await refusedWithoutWriting(() => advance(dealId, 'close'), 409, 'tech_check_required', dealId);
      assert.deepEqual(await stageEverywhere(stack, dealId), { db: ['tech_check', 'open', 4], workflow: ['tech_check', 'open', 4] });
    });

    it('a value that falls back to the threshold lets the deal leave Tech Check without a check', async function () {
      const { dealId } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      const quote = (await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body.quotes[0];
      const revised = await stack.as.rep.post<QuoteChanged>(`/quotes/${quote.id}/revise`);
      expectStatus(revised, 201);
      const line = revised.body.lines[0];
      expectStatus(await stack.as.rep.patch(`/quotes/${revised.body.id}/lines/${line.id}`, { unitPriceCents: AT_THRESHOLD }), 200);
      expectStatus(await stack.as.rep.post(`/quotes/${revised.body.id}/activate`), 200);
      const dealLine = (await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body.lines[0];
      expectStatus(await stack.as.rep.patch(`/deals/${dealId}/lines/${dealLine.id}`, { unitPriceCents: AT_THRESHOLD }), 200);
      expectStatus(await advance(dealId, 'close'), 200);
    });

    it('closes as lost from any stage with a reason; without one it is a 400 naming the field', async function () {
      const dealId = await qualifiedDeal(stack);
      await refusedWithoutWriting(() => stack.as.rep.post(`/deals/${dealId}/close`, { outcome: 'lost' }), 400, 'validation_failed', dealId);
      const noReason = await stack.as.rep.post<Problem>(`/deals/${dealId}/close`, { outcome: 'lost' });
      assert.equal(noReason.body.field, 'reason');
      assert.equal(noReason.body.errors![0].code, 'required');
      const lost = await stack.as.rep.post<DealUpdated>(`/deals/${dealId}/close`, { outcome: 'lost', reason: 'Chose a competitor' });
      expectStatus(lost, 200);
      assert.equal(lost.body.status, 'lost');
      assert.equal(lost.body.closeReason, 'Chose a competitor');
      assert.deepEqual(lost.body.moves.map((m) => [m.from, m.to, m.reason]), [['qualify', 'lost', 'Chose a competitor']]);

      const { dealId: inTechCheck } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      expectStatus(await stack.as.rep.post(`/deals/${inTechCheck}/close`, { outcome: 'lost', reason: 'No budget' }), 200);
    });

    it('a closed deal refuses every change (deal_closed)', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'close', AT_THRESHOLD);
      expectStatus(await stack.as.rep.post(`/deals/${dealId}/close`, { outcome: 'won' }), 200);
      await refusedWithoutWriting(() => advance(dealId, 'propose'), 409, 'deal_closed', dealId);
      await refusedWithoutWriting(() => stack.as.rep.post(`/deals/${dealId}/close`, { outcome: 'lost', reason: 'x' }), 409, 'deal_closed', dealId);
      await refusedWithoutWriting(() => stack.as.rep.post(`/deals/${dealId}/lines`, { productId: doorbellId, quantity: 1 }), 409, 'deal_closed', dealId);
      await refusedWithoutWriting(() => stack.as.rep.post(`/deals/${dealId}/quotes`), 409, 'deal_closed', dealId);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${quoteId}/revise`), 409, 'deal_closed', dealId);
      await refusedWithoutWriting(() => stack.as.tech_consultant.post(`/deals/${dealId}/tech-checks`, techCheckBody(quoteId)), 409, 'deal_closed', dealId);
    });

    it('only the owner, a manager or an admin works a deal (403 not_owner for another rep; a technical consultant may not move it)', async function () {
      const dealId = await qualifiedDeal(stack);
      await refusedWithoutWriting(() => advance(dealId, 'develop', stack.as.otherRep), 403, 'not_owner', dealId);
      await refusedWithoutWriting(() => advance(dealId, 'develop', stack.as.tech_consultant), 403, 'forbidden', dealId);
      const moved = await advance(dealId, 'develop', stack.as.manager);
      expectStatus(moved, 200);
      assert.equal(moved.body.moves[0].by, stack.users.manager.id, 'the move is attributed to the manager who made it');

      await refusedWithoutWriting(() => stack.as.rep.patch(`/deals/${dealId}`, { ownerId: stack.users.otherRep.id }), 403, 'owner_reassign_forbidden', dealId);
      const reassigned = await stack.as.manager.patch<DealUpdated>(`/deals/${dealId}`, { ownerId: stack.users.otherRep.id });
      expectStatus(reassigned, 200);
      assert.equal(reassigned.body.ownerId, stack.users.otherRep.id);
      expectStatus(await advance(dealId, 'propose', stack.as.otherRep), 409, 'products_required');
      await refusedWithoutWriting(() => advance(dealId, 'qualify', stack.as.rep), 403, 'not_owner', dealId);
    });

    it('a retried quote creation with the same Idempotency-Key creates one draft', async function () {
      const dealId = await qualifiedDeal(stack);
      const first = await stack.as.rep.post<QuoteDetail>(`/deals/${dealId}/quotes`, {}, { 'Idempotency-Key': `quote-${dealId}` });
      const retry = await stack.as.rep.post<QuoteDetail>(`/deals/${dealId}/quotes`, {}, { 'Idempotency-Key': `quote-${dealId}` });
      expectStatus(retry, 201);
      assert.equal(retry.body.id, first.body.id);
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
      assert.equal((await stack.as.rep.get<List<Quote>>(`/deals/${dealId}/quotes`)).body.data.length, 1);
    });
  });

  describe('value and products', function () {
    it('the catalog has doorbells, thermostats, security systems, sensors, cameras and monitoring plans with list prices', async function () {
      const { body } = await stack.as.rep.get<List<Product>>('/products');
      const categories = new Set(body.data.map((p) => p.category));
      assert.deepEqual([...categories].sort(), ['camera', 'doorbell', 'monitoring_plan', 'security_system', 'sensor', 'thermostat']);
      assert.ok(body.data.every((p) => Number.isInteger(p.listPriceCents) && p.listPriceCents > 0));
      const cameras = await stack.as.rep.get<List<Product>>('/products?category=camera');
      assert.ok(cameras.body.data.length > 0 && cameras.body.data.every((p) => p.category === 'camera'));
      assert.deepEqual((await stack.as.rep.get(`/products/${cameras.body.data[0].id}`)).body, cameras.body.data[0]);
    });

    it("a deal's value is the rep's estimate while it has no lines, then the sum of its lines (quantity × unit price − discount)", async function () {
      const dealId = await qualifiedDeal(stack, { estimatedValueCents: 1_234_500 });
      assert.equal((await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body.valueCents, 1_234_500, 'the lead’s estimate carries over');
      const estimated = await stack.as.rep.patch<DealUpdated>(`/deals/${dealId}`, { estimatedValueCents: 3_000_000 });
      expectStatus(estimated, 200);
      assert.equal(estimated.body.valueCents, 3_000_000);
      assert.equal(estimated.body.techCheck.required, true, 'the estimate counts for the Tech Check rule while there are no lines');

      const first = await stack.as.rep.post<DealUpdated>(`/deals/${dealId}/lines`, { productId: doorbellId, quantity: 3 });
      expectStatus(first, 201);
      assert.equal(first.body.valueCents, 3 * 19_900, 'list price by default');
      const second = await stack.as.rep.post<DealUpdated>(`/deals/${dealId}/lines`, { productId: systemId, quantity: 2, unitPriceCents: 200_000, discountCents: 50_000 });
      assert.equal(second.body.valueCents, 3 * 19_900 + 2 * 200_000 - 50_000);
      assert.equal(second.body.lines[1].amountCents, 350_000);
      assert.equal(second.body.createdId, second.body.lines[1].id);
      await refusedWithoutWriting(() => stack.as.rep.patch(`/deals/${dealId}`, { estimatedValueCents: 5 }), 409, 'value_from_products', dealId);

      const changed = await stack.as.rep.patch<DealUpdated>(`/deals/${dealId}/lines/${first.body.createdId}`, { quantity: 1 });
      assert.equal(changed.body.valueCents, 19_900 + 350_000);
      const removed = await stack.as.rep.del<DealUpdated>(`/deals/${dealId}/lines/${first.body.createdId}`);
      expectStatus(removed, 200);
      assert.equal(removed.body.valueCents, 350_000);
      assert.equal(removed.body.lines.length, 1);
    });

    it('bad line input is a 400 naming the field, and changes nothing', async function () {
      const dealId = await qualifiedDeal(stack);
      for (const [body, field, code] of [
        [{ productId: doorbellId, quantity: 0 }, 'quantity', 'too_small'],
        [{ productId: doorbellId, quantity: 1.5 }, 'quantity', null],
        [{ productId: doorbellId, quantity: 1, unitPriceCents: 10.5 }, 'unitPriceCents', null],
        [{ productId: doorbellId, quantity: 1, discountCents: 19_901 }, 'discountCents', 'too_large'],
        [{ productId: '00000000-0000-4000-8000-000000000000', quantity: 1 }, 'productId', 'not_found'],
        [{ productId: doorbellId, quantity: 1, priceCents: 5 }, 'priceCents', 'unknown_field'],
      ] as const) {
        await refusedWithoutWriting(async () => {
          const reply = await stack.as.rep.post<Problem>(`/deals/${dealId}/lines`, body);
          assert.equal(reply.body.field, field, JSON.stringify(reply.body));
          // (Wrong types are reported as `required` by the shared validation mapper: not asserted here.)
          if (code) assert.equal(reply.body.errors![0].code, code, JSON.stringify(reply.body));
          return reply;
        }, 400, 'validation_failed', dealId);
      }
      await refusedWithoutWriting(() => stack.as.rep.post(`/deals/${dealId}/advance`, { to: 'won' }), 400, 'validation_failed', dealId);
      await refusedWithoutWriting(() => stack.as.rep.post(`/deals/${dealId}/lines/x`, {}), 404, 'route_not_found', dealId);
      expectStatus(await stack.as.rep.get('/deals/not-a-uuid'), 404, 'deal_not_found');
    });
  });

  describe('quotes', function () {
    it('a quote starts as a draft prefilled with the deal’s customer and lines; drafts are editable, an active quote is read-only', async function () {
      const dealId = await qualifiedDeal(stack);
      await stack.as.rep.post(`/deals/${dealId}/lines`, { productId: doorbellId, quantity: 4, discountCents: 1_000 });
      const deal = (await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body;
      const draft = await stack.as.rep.post<QuoteDetail>(`/deals/${dealId}/quotes`);
      expectStatus(draft, 201);
      assert.equal(draft.body.status, 'draft');
      assert.equal(draft.body.revision, 1);
      assert.match(draft.body.quoteNumber, /^Q-\d+$/);
      assert.equal(draft.body.contactId, deal.contactId);
      assert.equal(draft.body.accountId, deal.accountId);
      assert.deepEqual(draft.body.lines.map((l) => [l.productId, l.quantity, l.unitPriceCents, l.discountCents]), [[doorbellId, 4, 19_900, 1_000]]);
      assert.equal(draft.body.totalCents, 4 * 19_900 - 1_000);

      const edited = await stack.as.rep.patch<QuoteDetail>(`/quotes/${draft.body.id}`, { name: 'Doorbells for the lobby', validUntil: '2027-01-31' });
      expectStatus(edited, 200);
      assert.equal(edited.body.validUntil, '2027-01-31');
      const added = await stack.as.rep.post<QuoteDetail>(`/quotes/${draft.body.id}/lines`, { productId: systemId, quantity: 1 });
      assert.equal(added.body.totalCents, 4 * 19_900 - 1_000 + 249_900);

      const active = await stack.as.rep.post<QuoteChanged>(`/quotes/${draft.body.id}/activate`);
      expectStatus(active, 200);
      assert.equal(active.body.status, 'active');
      assert.ok(active.body.activatedAt);
      await refusedWithoutWriting(() => stack.as.rep.patch(`/quotes/${draft.body.id}`, { name: 'Changed' }), 409, 'quote_read_only');
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${draft.body.id}/lines`, { productId: doorbellId, quantity: 1 }), 409, 'quote_read_only');
      await refusedWithoutWriting(() => stack.as.rep.del(`/quotes/${draft.body.id}/lines/${added.body.lines[0].id}`), 409, 'quote_read_only');
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${draft.body.id}/activate`), 409, 'quote_not_draft');
    });

    it('revising makes an editable copy with revision + 1 and closes the old one as revised', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'propose', AT_THRESHOLD);
      const revised = await stack.as.rep.post<QuoteChanged>(`/quotes/${quoteId}/revise`);
      expectStatus(revised, 201);
      assert.equal(revised.body.status, 'draft');
      assert.equal(revised.body.revision, 2);
      assert.equal(revised.body.revisedFromId, quoteId);
      const old = (await stack.as.rep.get<QuoteDetail>(`/quotes/${quoteId}`)).body;
      assert.equal(revised.body.quoteNumber, old.quoteNumber, 'revisions share the quote number');
      assert.deepEqual([old.status, old.statusReason], ['closed', 'revised']);
      assert.deepEqual(revised.body.lines.map((l) => l.amountCents), old.lines.map((l) => l.amountCents));
      expectStatus(await stack.as.rep.patch(`/quotes/${revised.body.id}`, { description: 'Second offer' }), 200);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${quoteId}/revise`), 409, 'quote_not_active', dealId);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${revised.body.id}/revise`), 409, 'quote_not_active', dealId);
      const deal = (await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body;
      assert.equal(deal.activeQuoteId, null);
    });

    it('a deal has at most one active quote (active_quote_exists)', async function () {
      const { dealId } = await dealAt(stack, 'propose', AT_THRESHOLD);
      const second = await stack.as.rep.post<QuoteDetail>(`/deals/${dealId}/quotes`);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${second.body.id}/activate`), 409, 'active_quote_exists', dealId);
      assert.equal(Number((await stack.db('quotes').where({ deal_id: dealId, status: 'active' }).count({ n: '*' }))[0].n), 1);
    });

    it('an empty draft cannot be activated (quote_lines_required)', async function () {
      const dealId = await qualifiedDeal(stack);
      const draft = await stack.as.rep.post<QuoteDetail>(`/deals/${dealId}/quotes`);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${draft.body.id}/activate`), 409, 'quote_lines_required', dealId);
    });

    it('closing a quote as lost with closeDeal closes the deal as lost too', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'propose', AT_THRESHOLD);
      const closed = await stack.as.rep.post<QuoteChanged>(`/quotes/${quoteId}/close`, { reason: 'lost', description: 'Went with a competitor', closeDeal: true });
      expectStatus(closed, 200);
      assert.deepEqual([closed.body.status, closed.body.statusReason, closed.body.closeDescription], ['closed', 'lost', 'Went with a competitor']);
      assert.deepEqual(closed.body.process, { workflowId: `deal-${dealId}`, stage: 'propose', status: 'lost', moveSeq: 3 });
      const deal = (await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body;
      assert.deepEqual([deal.status, deal.closeReason], ['lost', 'quote_lost']);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${quoteId}/close`, { reason: 'canceled' }), 409, 'deal_closed', dealId);
    });

    it('closing a draft as canceled leaves the deal open', async function () {
      const dealId = await qualifiedDeal(stack);
      const draft = await stack.as.rep.post<QuoteDetail>(`/deals/${dealId}/quotes`);
      const closed = await stack.as.rep.post<QuoteChanged>(`/quotes/${draft.body.id}/close`, { reason: 'canceled' });
      expectStatus(closed, 200);
      assert.equal(closed.body.process.status, 'open');
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${draft.body.id}/close`, { reason: 'lost' }), 409, 'quote_not_open', dealId);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${draft.body.id}/close`, { reason: 'revised' }), 400, 'validation_failed', dealId);
    });

    /** The UTC calendar date `hours` from now. */
    const utcDate = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString().slice(0, 10);

    it('a quote is closed with the close date and description given: stored, returned and shown on the quote', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'propose', AT_THRESHOLD);
      // The quote was made weeks ago; the rep records the day the customer said no.
      await stack.db('quotes').where({ id: quoteId }).update({ created_at: new Date(Date.now() - 30 * 86_400_000) });
      const closeDate = utcDate(-10 * 24);
      const closed = await stack.as.rep.post<QuoteChanged>(`/quotes/${quoteId}/close`, { reason: 'lost', closeDate, description: 'Budget frozen until next year' });
      expectStatus(closed, 200);
      assert.deepEqual([closed.body.status, closed.body.statusReason, closed.body.closeDate, closed.body.closeDescription], ['closed', 'lost', closeDate, 'Budget frozen until next year']);
      assert.ok(Math.abs(Date.parse(closed.body.closedAt!) - Date.now()) < 60_000, 'closedAt stays the moment it was recorded');
      const row = await stack.db('quotes').where({ id: quoteId }).first();
      assert.deepEqual([row.close_description, row.status_reason], ['Budget frozen until next year', 'lost']);
      assert.equal((await stack.db.raw('select close_date::text as d from quotes where id = ?', [quoteId])).rows[0].d, closeDate);
      const shown = (await stack.as.rep.get<QuoteDetail>(`/quotes/${quoteId}`)).body;
      assert.deepEqual([shown.closeDate, shown.closeDescription], [closeDate, 'Budget frozen until next year']);
      const listed = (await stack.as.rep.get<List<Quote>>(`/deals/${dealId}/quotes`)).body.data.find((q) => q.id === quoteId);
      assert.equal(listed?.closeDate, closeDate);
      const audit = await stack.db('audit_log').where({ entity_type: 'quote', entity_id: quoteId, action: 'quote.closed' }).first();
      assert.equal(audit.after.closeDate, closeDate, 'the audit trail keeps the close date');
    });

    it('a close date may be today in any time zone, but not later (in_future) nor before the quote was created', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'propose', AT_THRESHOLD);
      for (const closeDate of [utcDate(48), '2999-01-01']) {
        await refusedWithoutWriting(async () => {
          const reply = await stack.as.rep.post<Problem>(`/quotes/${quoteId}/close`, { reason: 'lost', closeDate });
          assert.deepEqual([reply.body.field, reply.body.errors?.[0]?.code], ['closeDate', 'in_future'], closeDate);
          return reply;
        }, 400, 'validation_failed', dealId);
      }
      await refusedWithoutWriting(async () => {
        const reply = await stack.as.rep.post<Problem>(`/quotes/${quoteId}/close`, { reason: 'lost', closeDate: '2020-01-01' });
        assert.deepEqual([reply.body.field, reply.body.errors?.[0]?.code], ['closeDate', 'before_quote_created']);
        return reply;
      }, 400, 'validation_failed', dealId);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${quoteId}/close`, { reason: 'lost', closeDate: '2026-11-31' }), 400, 'validation_failed', dealId);
      // Already today on the Line Islands (UTC+14): accepted.
      const latest = utcDate(14);
      const closed = await stack.as.rep.post<QuoteChanged>(`/quotes/${quoteId}/close`, { reason: 'lost', closeDate: latest });
      expectStatus(closed, 200);
      assert.equal(closed.body.closeDate, latest);
    });

    it('a close description with a NUL is 400 invalid_text, and nothing is closed', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'propose', AT_THRESHOLD);
      await refusedWithoutWriting(async () => {
        const reply = await stack.as.rep.post<Problem>(`/quotes/${quoteId}/close`, { reason: 'lost', description: 'Went with\u0000 a competitor' });
        assert.equal(reply.body.field, 'description');
        return reply;
      }, 400, 'invalid_text', dealId);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${quoteId}/close`, { reason: 'lost', description: 'x'.repeat(2001) }), 400, 'validation_failed', dealId);
      assert.equal((await stack.as.rep.get<QuoteDetail>(`/quotes/${quoteId}`)).body.status, 'active');
    });

    it('without a close date, a closed, revised or won quote gets the day it was closed (UTC)', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'propose', AT_THRESHOLD);
      const revised = await stack.as.rep.post<QuoteChanged>(`/quotes/${quoteId}/revise`);
      expectStatus(revised, 201);
      assert.equal(revised.body.closeDate, null, 'the new draft is not closed');
      const old = (await stack.as.rep.get<QuoteDetail>(`/quotes/${quoteId}`)).body;
      assert.equal(old.closeDate, old.closedAt!.slice(0, 10), 'the revised revision is dated the day it was revised');
      const closed = await stack.as.rep.post<QuoteChanged>(`/quotes/${revised.body.id}/close`, { reason: 'canceled' });
      expectStatus(closed, 200);
      assert.equal(closed.body.closeDate, closed.body.closedAt!.slice(0, 10));
      assert.ok([utcDate(-1), utcDate(0)].includes(closed.body.closeDate!), `${closed.body.closeDate} is today (UTC)`);
      assert.equal(closed.body.closeDescription, null);
      assert.equal((await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body.status, 'open');

      const inClose = await dealAt(stack, 'close', AT_THRESHOLD);
      expectStatus(await stack.as.rep.post(`/quotes/${inClose.quoteId}/win`), 201);
      const won = (await stack.as.rep.get<QuoteDetail>(`/quotes/${inClose.quoteId}`)).body;
      assert.equal(won.status, 'won');
      assert.equal(won.closeDate, won.closedAt!.slice(0, 10), 'a won quote is dated the day it was won');
    });
  });

  describe('Tech Checks', function () {
    it('only technical consultants record Tech Checks; reps, managers and admins get 403', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      for (const role of ['rep', 'manager', 'admin'] as const) {
        await refusedWithoutWriting(() => stack.as[role].post(`/deals/${dealId}/tech-checks`, techCheckBody(quoteId)), 403, 'forbidden', dealId);
      }
    });

    it('notes are required even when everything is in order; a check completed in the future is refused', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      for (const notes of [undefined, '', '   ']) {
        await refusedWithoutWriting(async () => {
          const reply = await stack.as.tech_consultant.post<Problem>(`/deals/${dealId}/tech-checks`, { ...techCheckBody(quoteId), notes });
          assert.equal(reply.body.field, 'notes');
          return reply;
        }, 400, 'validation_failed', dealId);
      }
      await refusedWithoutWriting(async () => {
        const reply = await stack.as.tech_consultant.post<Problem>(`/deals/${dealId}/tech-checks`, { ...techCheckBody(quoteId), completedAt: new Date(Date.now() + 86_400_000).toISOString() });
        assert.equal(reply.body.field, 'completedAt');
        return reply;
      }, 400, 'validation_failed', dealId);
    });

    it('is stored with the quote revision and its performer, shown on the deal and on its timeline', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      const completedAt = '2026-11-20T15:30:00.000Z';
      const recorded = await stack.as.tech_consultant.post<TechCheckRecorded>(`/deals/${dealId}/tech-checks`, { quoteId, outcome: 'passed', completedAt, notes: 'Everything is in order: wiring plan and site survey checked.' });
      expectStatus(recorded, 201);
      assert.deepEqual(
        [recorded.body.quoteId, recorded.body.quoteRevision, recorded.body.quoteTotalCents, recorded.body.outcome, recorded.body.completedAt, recorded.body.performedBy],
        [quoteId, 1, ABOVE_THRESHOLD, 'passed', completedAt, stack.users.tech_consultant.id],
      );
      const deal = (await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body;
      assert.equal(deal.techChecks.length, 1);
      assert.equal(deal.techCheck.passedCheckId, recorded.body.id);
      assert.deepEqual((await stack.as.tech_consultant.get<List<TechCheck>>(`/deals/${dealId}/tech-checks`)).body.data, deal.techChecks);
      const quote = (await stack.as.rep.get<QuoteDetail>(`/quotes/${quoteId}`)).body;
      assert.deepEqual(quote.techChecks.map((c) => c.id), [recorded.body.id], 'the check is kept with the quote it reviewed');
      const timeline = (await stack.as.rep.get<Timeline>(`/deals/${dealId}/timeline`)).body.data;
      const note = timeline.find((a) => a.id === recorded.body.activityId);
      assert.ok(note, 'the check is on the deal’s timeline');
      assert.deepEqual([note.type, note.status, note.ownerId, note.body], ['note', 'completed', stack.users.tech_consultant.id, 'Everything is in order: wiring plan and site survey checked.']);
      assert.match(note.subject, /Tech Check passed/);
    });

    it('a check must review the deal’s active quote (quote_not_active)', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      const revised = await stack.as.rep.post<QuoteChanged>(`/quotes/${quoteId}/revise`);
      await refusedWithoutWriting(() => stack.as.tech_consultant.post(`/deals/${dealId}/tech-checks`, techCheckBody(quoteId)), 409, 'quote_not_active', dealId);
      await refusedWithoutWriting(() => stack.as.tech_consultant.post(`/deals/${dealId}/tech-checks`, techCheckBody(revised.body.id)), 409, 'quote_not_active', dealId);
      const other = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      await refusedWithoutWriting(async () => {
        const reply = await stack.as.tech_consultant.post<Problem>(`/deals/${dealId}/tech-checks`, techCheckBody(other.quoteId));
        assert.equal(reply.body.field, 'quoteId');
        return reply;
      }, 400, 'validation_failed', dealId);
    });

    it('a failed check keeps the gate closed until a revised quote passes a new check', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      expectStatus(await stack.as.tech_consultant.post(`/deals/${dealId}/tech-checks`, techCheckBody(quoteId, 'failed', 'The PTZ cameras need a second power run.')), 201);
      await refusedWithoutWriting(() => advance(dealId, 'close'), 409, 'tech_check_required', dealId);
      await refusedWithoutWriting(() => stack.as.tech_consultant.post(`/deals/${dealId}/tech-checks`, techCheckBody(quoteId, 'passed')), 409, 'tech_check_failed', dealId);
      const revised = await stack.as.rep.post<QuoteChanged>(`/quotes/${quoteId}/revise`);
      expectStatus(await stack.as.rep.post(`/quotes/${revised.body.id}/activate`), 200);
      await refusedWithoutWriting(() => advance(dealId, 'close'), 409, 'tech_check_required', dealId);
      expectStatus(await stack.as.tech_consultant.post(`/deals/${dealId}/tech-checks`, techCheckBody(revised.body.id, 'passed')), 201);
      expectStatus(await advance(dealId, 'close'), 200);
    });

    it('a check of an older revision does not cover a later revision above the threshold: revising in Close sends the deal back', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'close', ABOVE_THRESHOLD);
      const revised = await stack.as.rep.post<QuoteChanged>(`/quotes/${quoteId}/revise`);
      expectStatus(revised, 201);
      assert.equal(revised.body.process.stage, 'tech_check', 'without an active checked revision the deal is back in Tech Check');
      expectStatus(await stack.as.rep.post(`/quotes/${revised.body.id}/activate`), 200);
      await refusedWithoutWriting(() => advance(dealId, 'close'), 409, 'tech_check_required', dealId);
      const deal = (await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body;
      assert.equal(deal.techCheck.passedCheckId, null);
      assert.equal(deal.techChecks.length, 1, 'the old revision keeps its check');
      expectStatus(await stack.as.tech_consultant.post(`/deals/${dealId}/tech-checks`, techCheckBody(revised.body.id)), 201);
      expectStatus(await advance(dealId, 'close'), 200);
      expectStatus(await stack.as.rep.post(`/deals/${dealId}/close`, { outcome: 'won', actualRevenueCents: 1_950_000 }), 200);
    });

    it('a failed check recorded while the deal is in Close sends it back to Tech Check', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'close', ABOVE_THRESHOLD);
      const failed = await stack.as.tech_consultant.post<TechCheckRecorded>(`/deals/${dealId}/tech-checks`, techCheckBody(quoteId, 'failed', 'Site survey found no network cabling.'));
      expectStatus(failed, 201);
      assert.equal(failed.body.process.stage, 'tech_check');
      assert.equal((await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body.stage, 'tech_check');
    });
  });

  describe('reading', function () {
    it('GET /deals filters by stage, status, owner and value range, paged', async function () {
      const low = await dealAt(stack, 'propose', AT_THRESHOLD);
      const high = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      const byStage = await stack.as.manager.get<Page<Deal>>(`/deals?stage=tech_check&minValueCents=${ABOVE_THRESHOLD}&maxValueCents=${ABOVE_THRESHOLD}`);
      expectStatus(byStage, 200);
      assert.ok(byStage.body.data.some((d) => d.id === high.dealId));
      assert.ok(byStage.body.data.every((d) => d.stage === 'tech_check' && d.valueCents === ABOVE_THRESHOLD));
      const range = await stack.as.manager.get<Page<Deal>>(`/deals?minValueCents=${AT_THRESHOLD}&maxValueCents=${AT_THRESHOLD}&stage=propose,close`);
      assert.ok(range.body.data.some((d) => d.id === low.dealId));
      assert.ok(!range.body.data.some((d) => d.id === high.dealId));
      const theirs = await stack.as.manager.get<Page<Deal>>(`/deals?ownerId=${stack.users.otherRep.id}`);
      assert.ok(theirs.body.data.every((d) => d.ownerId === stack.users.otherRep.id));
      assert.ok(!theirs.body.data.some((d) => d.id === high.dealId));
      const paged = await stack.as.manager.get<Page<Deal>>('/deals?limit=2&offset=1&status=open');
      assert.equal(paged.body.data.length, 2);
      assert.deepEqual([paged.body.page.limit, paged.body.page.offset], [2, 1]);
      assert.ok(paged.body.page.total >= 3);
      await refusedWithoutWriting(async () => {
        const reply = await stack.as.manager.get<Problem>('/deals?stage=negotiate');
        assert.match(reply.body.field!, /^stage/);
        return reply;
      }, 400, 'validation_failed');
    });

    it('ops find deals in the Temporal Web UI by stage, value (dollars), owner, Tech Check need and waiting time', async function () {
      const high = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      const low = await dealAt(stack, 'propose', AT_THRESHOLD);
      const ids = async (query: string): Promise<string[]> => {
        const found: string[] = [];
        for await (const execution of stack.env.client.workflow.list({ query })) found.push(execution.workflowId);
        return found;
      };
      const soon = new Date(Date.now() + 60_000).toISOString();
      const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000).toISOString();
      await eventually(async () => {
        const waiting = await ids(`DealStage = 'tech_check' AND DealValue > 20000 AND TechCheckRequired = true AND WaitingSince < '${soon}' AND OwnerId = '${stack.users.rep.id}'`);
        const propose = await ids(`DealStage = 'propose' AND DealValue = 20000 AND TechCheckRequired = false AND DealId = '${low.dealId}'`);
        return waiting.includes(`deal-${high.dealId}`) && !waiting.includes(`deal-${low.dealId}`) && propose.length === 1;
      }, 'the deals to be visible by their search attributes');
      assert.ok(!(await ids(`DealStage = 'tech_check' AND WaitingSince < '${threeDaysAgo}'`)).includes(`deal-${high.dealId}`), 'it has not waited 3 days yet');
      const [execution] = await ids(`DealId = '${high.dealId}'`);
      assert.equal(execution, `deal-${high.dealId}`);
      const description = await stack.env.client.workflow.getHandle(execution).describe();
      assert.equal(description.typedSearchAttributes.get(DealValueKey), 20000.01, 'DealValue is in dollars');
    });

    it('the OpenAPI document describes the deal routes and never says "opportunity"', async function () {
      const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      for (const path of ['/leads/{id}/qualify', '/deals', '/deals/{id}', '/deals/{id}/advance', '/deals/{id}/close', '/deals/{id}/quotes', '/quotes/{id}/revise', '/deals/{id}/tech-checks', '/products']) {
        assert.ok(doc.paths[path], `${path} is documented`);
      }
      assert.doesNotMatch(JSON.stringify(doc), /opportunit/i);
    });
  });
});
