/**
 * The Tech Check gate cannot be bypassed by any sequence of API calls. fast-check generates random
 * call sequences (moves, value changes, quotes and revisions, checks by various roles, closes, quote wins),
 * each driven on its own deal through the real API, worker and Postgres, many deals at a time.
 * After every call, from Postgres's rows (not from the workflow's view):
 * - no open deal in Close, no won deal and no deal with a won quote is worth more than $20,000.00
 *   without a passed (and no failed) check of its active (or won) quote revision;
 * - each won quote has exactly one order, at the quote's total;
 * - the deal's value is the sum of its lines, or its estimate while it has none;
 * - the workflow's answer (stage, status, move count) is what Postgres holds;
 * and at the end of each sequence the workflow's own state agrees with Postgres.
 * Each property run drives a batch of DEAL_FUZZ_BATCH sequences, DEAL_FUZZ_CONCURRENCY deals at a
 * time; DEAL_FUZZ_RUNS runs (defaults 5 × 60 sequences, 24 at a time; 10 × 100 makes a good longer run). DEAL_FUZZ_SEED replays a run.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Reply } from '../helpers/http';
import type { Process } from '../helpers/apiTypes';
import type { DealStage } from '../../domain/deal';
import { DEAL_STAGES, TECH_CHECK_THRESHOLD_CENTS, dealWorkflowId, getDealStateQuery } from '../../workflows/dealLifecycle.contract';
import { inPool } from '../helpers/bursts';
import { productId, qualifiedDeal } from '../helpers/deals';
import { type ApiClient, startStack, type TestStack } from '../helpers/stack';

const RUNS = Number(process.env.DEAL_FUZZ_RUNS ?? 5);
const BATCH = Number(process.env.DEAL_FUZZ_BATCH ?? 60);
const CONCURRENCY = Number(process.env.DEAL_FUZZ_CONCURRENCY ?? 24);
const SEED = process.env.DEAL_FUZZ_SEED ? Number(process.env.DEAL_FUZZ_SEED) : undefined;
/** Statuses an API call may answer with; anything else (a 500, a 503) fails the test. */
const EXPECTED_STATUSES = new Set([200, 201, 400, 403, 404, 409]);

/** Prices around the threshold, so sums land on both sides of it. */
const PRICES = [1, 19_900, 500_000, 999_999, 1_000_000, 1_000_001, 2_000_000, 2_000_001];
const SKUS = ['DB-100', 'SS-300', 'CM-300', 'MP-300'];
type Role = 'rep' | 'tech_consultant' | 'manager' | 'otherRep';

type Command =
  | { k: 'addLine'; sku: number; quantity: number; price: number | null }
  | { k: 'updateLine'; pick: number; quantity: number; price: number }
  | { k: 'removeLine'; pick: number }
  | { k: 'estimate'; value: number }
  | { k: 'createQuote' }
  | { k: 'editDraftLine'; pick: number; price: number }
  | { k: 'activate'; pick: number }
  | { k: 'revise'; pick: number }
  | { k: 'closeQuote'; pick: number; reason: 'lost' | 'canceled'; closeDeal: boolean }
  | { k: 'check'; role: Role; outcome: 'passed' | 'failed'; pick: number | null }
  | { k: 'next'; role: Role }
  | { k: 'advance'; to: (typeof DEAL_STAGES)[number] }
  | { k: 'won' }
  | { k: 'lost' }
  /** Win a quote (the active one, or another): creates an order, maybe closes the deal. */
  | { k: 'winQuote'; pick: number | null; closeDeal: boolean }
  /** Whatever moves the deal on from where it is: a line (at `price`), a quote, its activation, a passed check, the next stage, the win. */
  | { k: 'progress'; price: number };

const price = fc.constantFrom(...PRICES);
const pick = fc.nat(5);
const role = fc.constantFrom<Role>('rep', 'rep', 'rep', 'manager', 'tech_consultant', 'otherRep');
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('addLine' as const), sku: fc.nat(SKUS.length - 1), quantity: fc.integer({ min: 1, max: 3 }), price: fc.option(price, { nil: null }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('updateLine' as const), pick, quantity: fc.integer({ min: 1, max: 3 }), price }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('removeLine' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('estimate' as const), value: fc.constantFrom(0, 2_000_000, 2_000_001, 3_000_000) }) },
  { weight: 3, arbitrary: fc.constant({ k: 'createQuote' as const }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('editDraftLine' as const), pick, price }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('activate' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('revise' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('closeQuote' as const), pick, reason: fc.constantFrom('lost' as const, 'canceled' as const), closeDeal: fc.constantFrom(false, false, false, false, true) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('check' as const), role: fc.constantFrom<Role>('tech_consultant', 'tech_consultant', 'tech_consultant', 'rep', 'manager'), outcome: fc.constantFrom('passed' as const, 'passed' as const, 'failed' as const), pick: fc.option(pick, { nil: null, freq: 4 }) }) },
  { weight: 8, arbitrary: fc.record({ k: fc.constant('next' as const), role }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('advance' as const), to: fc.constantFrom(...DEAL_STAGES) }) },
  { weight: 2, arbitrary: fc.constant({ k: 'won' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'lost' as const }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('winQuote' as const), pick: fc.option(pick, { nil: null, freq: 4 }), closeDeal: fc.boolean() }) },
  { weight: 30, arbitrary: fc.record({ k: fc.constant('progress' as const), price: fc.constantFrom(500_000, 1_000_000, 2_000_000, 2_000_001, 2_500_000) }) },
);
const sequence = fc.array(command, { minLength: 3, maxLength: 30 });

/** Rows as Postgres's JSON renders them (snake_case; money as JSON numbers). */
interface Snapshot {
  deal: { stage: DealStage; status: string; value_cents: number; estimated_value_cents: number | null; move_seq: number };
  lines: Array<Record<string, unknown>>;
  quotes: Array<Record<string, unknown>>;
  quoteLines: Array<Record<string, unknown>>;
  checks: Array<Record<string, unknown>>;
  orders: Array<Record<string, unknown>>;
}

interface Stats {
  sequences: number;
  calls: number;
  byStatus: Record<string, number>;
  reachedCloseAbove: number;
  wonAbove: number;
  wonAtOrBelow: number;
  sentBack: number;
  quotesWon: number;
}

describe('the Tech Check gate under random API call sequences (dev server, real worker, Postgres)', function () {
  let stack: TestStack;
  let products: string[];

  before(async function () {
    stack = await startStack({ server: 'dev' });
    products = await Promise.all(SKUS.map((sku) => productId(stack.db, sku)));
  });

  after(async function () {
    await stack?.teardown();
  });

  /** What Postgres says about the deal, read in one statement (one snapshot), independent of the workflow. */
  async function snapshot(dealId: string): Promise<Snapshot> {
    const { rows } = await stack.db.raw(
      `select json_build_object(
         'deal', (select row_to_json(d) from deals d where d.id = :id),
         'lines', (select coalesce(json_agg(l order by l.position), '[]') from deal_lines l where l.deal_id = :id),
         'quotes', (select coalesce(json_agg(q order by q.created_at, q.revision), '[]') from quotes q where q.deal_id = :id),
         'quoteLines', (select coalesce(json_agg(ql order by ql.position), '[]') from quote_lines ql join quotes q on q.id = ql.quote_id where q.deal_id = :id),
         'checks', (select coalesce(json_agg(c), '[]') from tech_checks c where c.deal_id = :id),
         'orders', (select coalesce(json_agg(o), '[]') from orders o where o.deal_id = :id)
       ) as s`,
      { id: dealId },
    );
    return rows[0].s;
  }

  function assertInvariant(s: Snapshot, context: string): void {
    const { deal, lines, quotes, checks } = s;
    const lineSum = lines.reduce((sum, l) => sum + Number(l.amount_cents), 0);
    assert.equal(Number(deal.value_cents), lines.length ? lineSum : Number(deal.estimated_value_cents ?? 0), `${context}: the value is the sum of the lines or the estimate`);
    // The offer: the active quote, or the one the customer accepted (winning makes the active one won).
    const active = quotes.filter((q) => q.status === 'active' || q.status === 'won');
    assert.ok(active.length <= 1, `${context}: at most one active or won quote`);
    const won = quotes.filter((q) => q.status === 'won');
    assert.deepEqual(s.orders.map((o) => [o.quote_id, Number(o.total_cents)]), won.map((q) => [q.id, Number(q.total_cents)]), `${context}: each won quote has its order, at the quote's total`);
    const gated = (deal.status === 'open' && deal.stage === 'close') || deal.status === 'won' || won.length > 0;
    if (!gated) return;
    const quote = active[0];
    const judged = Math.max(Number(deal.value_cents), quote ? Number(quote.total_cents) : 0);
    if (judged <= TECH_CHECK_THRESHOLD_CENTS) return;
    assert.ok(quote, `${context}: a deal worth ${judged} cents in ${deal.stage}/${deal.status} has an active quote`);
    const forRevision = checks.filter((c) => c.quote_id === quote.id && c.quote_revision === quote.revision);
    assert.ok(forRevision.some((c) => c.outcome === 'passed'), `${context}: a deal worth ${judged} cents in ${deal.stage}/${deal.status} has a passed check of quote ${quote.quote_number} revision ${quote.revision}`);
    assert.ok(!forRevision.some((c) => c.outcome === 'failed'), `${context}: and no failed one`);
  }

  async function runSequence(commands: Command[], stats: Stats): Promise<void> {
    const dealId = await qualifiedDeal(stack);
    const as: Record<Role, ApiClient> = { rep: stack.as.rep, tech_consultant: stack.as.tech_consultant, manager: stack.as.manager, otherRep: stack.as.otherRep };
    let s = await snapshot(dealId);
    let wasInCloseAbove = false;
    for (const [index, cmd] of commands.entries()) {
      const context = `deal ${dealId}, step ${index} ${JSON.stringify(cmd)}`;
      const reply = await perform(cmd, dealId, s, as);
      if (!reply) continue;
      stats.calls += 1;
      stats.byStatus[reply.status] = (stats.byStatus[reply.status] ?? 0) + 1;
      assert.ok(EXPECTED_STATUSES.has(reply.status), `${context}: unexpected ${reply.status} ${JSON.stringify(reply.body)}`);
      s = await snapshot(dealId);
      if (reply.status < 300 && (reply.body as { process?: Process } | undefined)?.process) {
        const { process } = reply.body as { process: Process };
        assert.deepEqual([process.stage, process.status, process.moveSeq], [s.deal.stage, s.deal.status, s.deal.move_seq], `${context}: the workflow's answer is what Postgres holds`);
      }
      assertInvariant(s, context);
      const above = Math.max(Number(s.deal.value_cents), ...s.quotes.filter((q) => q.status === 'active').map((q) => Number(q.total_cents))) > TECH_CHECK_THRESHOLD_CENTS;
      if (s.deal.stage === 'close' && s.deal.status === 'open' && above) wasInCloseAbove = true;
      if (s.deal.status !== 'open') break;
    }
    if (wasInCloseAbove) stats.reachedCloseAbove += 1;
    if (s.deal.status === 'won') {
      const above = Number(s.deal.value_cents) > TECH_CHECK_THRESHOLD_CENTS || s.quotes.some((q) => q.status === 'active' && Number(q.total_cents) > TECH_CHECK_THRESHOLD_CENTS);
      if (above) stats.wonAbove += 1;
      else stats.wonAtOrBelow += 1;
    }
    const state = await stack.env.client.workflow.getHandle(dealWorkflowId(dealId)).query(getDealStateQuery);
    assert.deepEqual([state.stage, state.status, state.moveSeq], [s.deal.stage, s.deal.status, s.deal.move_seq], `deal ${dealId}: the workflow and Postgres agree at the end`);
    stats.sequences += 1;
  }

  async function perform(cmd: Command, dealId: string, s: Snapshot, as: Record<Role, ApiClient>): Promise<Reply<unknown> | null> {
    const { rep } = as;
    const pickOf = <T>(items: T[], n: number): T | undefined => (items.length ? items[n % items.length] : undefined);
    const drafts = s.quotes.filter((q) => q.status === 'draft').reverse();
    const active = s.quotes.find((q) => q.status === 'active');
    switch (cmd.k) {
      case 'addLine':
        return rep.post(`/deals/${dealId}/lines`, { productId: products[cmd.sku], quantity: cmd.quantity, ...(cmd.price === null ? {} : { unitPriceCents: cmd.price }) });
      case 'updateLine': {
        const line = pickOf(s.lines, cmd.pick);
        return line ? rep.patch(`/deals/${dealId}/lines/${line.id}`, { quantity: cmd.quantity, unitPriceCents: cmd.price, discountCents: 0 }) : null;
      }
      case 'removeLine': {
        const line = pickOf(s.lines, cmd.pick);
        return line ? rep.del(`/deals/${dealId}/lines/${line.id}`) : null;
      }
      case 'estimate':
        return rep.patch(`/deals/${dealId}`, { estimatedValueCents: cmd.value });
      case 'createQuote':
        return rep.post(`/deals/${dealId}/quotes`);
      case 'editDraftLine': {
        const draft = pickOf(drafts, cmd.pick);
        const line = draft && s.quoteLines.find((l) => l.quote_id === draft.id);
        return line ? rep.patch(`/quotes/${draft.id}/lines/${line.id}`, { unitPriceCents: cmd.price, discountCents: 0 }) : null;
      }
      case 'activate': {
        const draft = pickOf(drafts, cmd.pick) ?? pickOf(s.quotes, cmd.pick);
        return draft ? rep.post(`/quotes/${draft.id}/activate`) : null;
      }
      case 'revise': {
        const quote = active ?? pickOf(s.quotes, cmd.pick);
        return quote ? rep.post(`/quotes/${quote.id}/revise`) : null;
      }
      case 'closeQuote': {
        const quote = pickOf(s.quotes, cmd.pick);
        return quote ? rep.post(`/quotes/${quote.id}/close`, { reason: cmd.reason, closeDeal: cmd.closeDeal }) : null;
      }
      case 'check': {
        const quote = cmd.pick === null ? active : pickOf(s.quotes, cmd.pick);
        if (!quote) return null;
        return as[cmd.role].post(`/deals/${dealId}/tech-checks`, { quoteId: quote.id, outcome: cmd.outcome, completedAt: new Date().toISOString(), notes: cmd.outcome === 'passed' ? 'Everything is in order.' : 'Wiring does not match the site plan.' });
      }
      case 'next': {
        const next = DEAL_STAGES[DEAL_STAGES.indexOf(s.deal.stage) + 1];
        return next ? as[cmd.role].post(`/deals/${dealId}/advance`, { to: next }) : rep.post(`/deals/${dealId}/close`, { outcome: 'won' });
      }
      case 'advance':
        return rep.post(`/deals/${dealId}/advance`, { to: cmd.to });
      case 'won':
        return rep.post(`/deals/${dealId}/close`, { outcome: 'won' });
      case 'lost':
        return rep.post(`/deals/${dealId}/close`, { outcome: 'lost', reason: 'Customer chose another vendor' });
      case 'winQuote': {
        const quote = cmd.pick === null ? active : pickOf(s.quotes, cmd.pick);
        return quote ? rep.post(`/quotes/${quote.id}/win`, { closeDeal: cmd.closeDeal }) : null;
      }
      case 'progress': {
        const stage = s.deal.stage as (typeof DEAL_STAGES)[number];
        if (s.lines.length === 0) return rep.post(`/deals/${dealId}/lines`, { productId: products[1], quantity: 1, unitPriceCents: cmd.price });
        if (stage === 'qualify' || stage === 'develop') return rep.post(`/deals/${dealId}/advance`, { to: DEAL_STAGES[DEAL_STAGES.indexOf(stage) + 1] });
        if (!active) return drafts[0] ? rep.post(`/quotes/${drafts[0].id}/activate`) : rep.post(`/deals/${dealId}/quotes`);
        const judged = Math.max(Number(s.deal.value_cents), Number(active.total_cents));
        const checked = s.checks.some((c) => c.quote_id === active.id && c.quote_revision === active.revision && c.outcome === 'passed');
        if (stage === 'propose') return rep.post(`/deals/${dealId}/advance`, { to: judged > TECH_CHECK_THRESHOLD_CENTS ? 'tech_check' : 'close' });
        if (stage === 'tech_check' && judged > TECH_CHECK_THRESHOLD_CENTS && !checked) return as.tech_consultant.post(`/deals/${dealId}/tech-checks`, { quoteId: active.id, outcome: 'passed', completedAt: new Date().toISOString(), notes: 'Everything is in order.' });
        if (stage === 'tech_check') return rep.post(`/deals/${dealId}/advance`, { to: 'close' });
        // In Close, one way in five wins through the quote (an order, the deal won with it).
        if (cmd.price % 2 === 1) return rep.post(`/quotes/${active.id}/win`, { closeDeal: true });
        return rep.post(`/deals/${dealId}/close`, { outcome: 'won' });
      }
    }
  }

  it('no deal above $20,000.00 reaches Close or won — nor is its quote won — without a passed check of its final active quote revision, and Postgres and the workflow always agree', async function () {
    this.timeout(30 * 60_000);
    const stats: Stats = { sequences: 0, calls: 0, byStatus: {}, reachedCloseAbove: 0, wonAbove: 0, wonAtOrBelow: 0, sentBack: 0, quotesWon: 0 };
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.array(sequence, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await inPool(batch, CONCURRENCY, (commands) => runSequence(commands, stats));
      }),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), verbose: 1 },
    );
    const seconds = (Date.now() - started) / 1000;
    stats.sentBack = Number((await stack.db('deal_stage_moves').where({ reason: 'tech_check_required' }).count({ n: '*' }))[0].n);
    stats.quotesWon = Number((await stack.db('quotes').where({ status: 'won' }).count({ n: '*' }))[0].n);
    console.log(`      ${stats.sequences} sequences, ${stats.calls} API calls in ${seconds.toFixed(0)} s (${(stats.calls / seconds).toFixed(0)} calls/s); answers ${JSON.stringify(stats.byStatus)}; reached Close above the threshold: ${stats.reachedCloseAbove}, sent back to Tech Check: ${stats.sentBack}, won above: ${stats.wonAbove}, won at or below: ${stats.wonAtOrBelow}, quotes won (orders): ${stats.quotesWon}`);
    assert.ok(stats.sequences >= RUNS * BATCH);
    assert.ok(stats.reachedCloseAbove > 0 && stats.wonAbove > 0 && stats.wonAtOrBelow > 0 && stats.quotesWon > 0, 'the sequences reached the interesting states');
  });
});
