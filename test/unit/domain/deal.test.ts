/**
 * The deal's stage rules as tables: every move from every stage, the $20,000.00 gate at its edge
 * (2,000,000 cents needs no check, 2,000,001 does), closing, winning a quote, and the send-back.
 * Pure functions: no server, no database.
 */
import assert from 'node:assert/strict';
import {
  DEAL_STAGES, closeRejection, movesNow, moveRejection, needsSendBack, techCheckGate, winRejection, wonQuoteRejection,
  type DealFacts, type DealStage, type DealStatus, type TechCheckFacts,
} from '../../../domain/deal';

const QUOTE = { id: 'q1', quoteNumber: 'Q-1001', revision: 1 };

function facts(over: { valueCents?: number; lines?: number; quoteCents?: number | null; quoteStatus?: 'active' | 'won'; checks?: Array<Partial<TechCheckFacts>> } = {}): DealFacts {
  const valueCents = over.valueCents ?? 1_000_000;
  const quoteCents = over.quoteCents === undefined ? valueCents : over.quoteCents;
  return {
    name: 'Doorbells for Contoso', ownerId: 'u1', lineCount: over.lines ?? 1, valueCents, estimatedValueCents: null,
    activeQuote: quoteCents === null ? null : { ...QUOTE, totalCents: quoteCents, status: over.quoteStatus ?? 'active' },
    techChecks: (over.checks ?? []).map((c, i) => ({ id: `tc${i}`, quoteId: QUOTE.id, quoteRevision: 1, outcome: 'passed', completedAt: '2026-11-30T10:00:00Z', performedBy: 'tc', ...c })),
  };
}

const code = (refusal: { code: string } | null): string | null => refusal?.code ?? null;

describe('domain/deal: the Tech Check gate', function () {
  const table: Array<[string, DealFacts, { required: boolean; satisfied: boolean; basis: string }]> = [
    ['exactly $20,000.00 needs no check', facts({ valueCents: 2_000_000 }), { required: false, satisfied: true, basis: 'deal_value' }],
    ['one cent more needs one', facts({ valueCents: 2_000_001 }), { required: true, satisfied: false, basis: 'deal_value' }],
    ['the active quote counts when it is larger', facts({ valueCents: 1_000_000, quoteCents: 2_000_001 }), { required: true, satisfied: false, basis: 'active_quote' }],
    ['a passed check of the revision satisfies it', facts({ valueCents: 2_500_000, checks: [{ outcome: 'passed' }] }), { required: true, satisfied: true, basis: 'deal_value' }],
    ['a check of another revision does not', facts({ valueCents: 2_500_000, checks: [{ outcome: 'passed', quoteRevision: 2 }] }), { required: true, satisfied: false, basis: 'deal_value' }],
    ['a failed check of the revision outweighs a passed one', facts({ valueCents: 2_500_000, checks: [{ outcome: 'failed' }, { outcome: 'passed' }] }), { required: true, satisfied: false, basis: 'deal_value' }],
  ];
  for (const [name, given, want] of table) {
    it(name, function () {
      const gate = techCheckGate(given);
      assert.deepEqual({ required: gate.required, satisfied: gate.satisfied, basis: gate.basis }, want);
      assert.equal(gate.thresholdCents, 2_000_000);
    });
  }
});

describe('domain/deal: moves', function () {
  const small = facts({ valueCents: 2_000_000 });
  const big = facts({ valueCents: 2_000_001 });
  const bigChecked = facts({ valueCents: 2_000_001, checks: [{ outcome: 'passed' }] });
  const table: Array<[DealStage, DealStage, DealFacts, string | null]> = [
    ['qualify', 'develop', small, null],
    ['qualify', 'propose', small, 'stage_skipped'],
    ['qualify', 'qualify', small, 'already_in_stage'],
    ['develop', 'propose', small, null],
    ['develop', 'propose', facts({ lines: 0 }), 'products_required'],
    ['develop', 'close', small, 'stage_skipped'],
    ['develop', 'qualify', small, null],
    ['propose', 'close', small, null],
    ['propose', 'close', facts({ quoteCents: null }), 'active_quote_required'],
    ['propose', 'tech_check', small, 'tech_check_not_required'],
    ['propose', 'tech_check', big, null],
    ['propose', 'close', big, 'tech_check_required'],
    ['propose', 'close', bigChecked, 'tech_check_required'],
    ['tech_check', 'close', big, 'tech_check_required'],
    ['tech_check', 'close', bigChecked, null],
    ['tech_check', 'close', facts({ valueCents: 2_000_001, quoteCents: null }), 'active_quote_required'],
    ['tech_check', 'develop', big, null],
    ['close', 'tech_check', small, 'tech_check_not_required'],
    ['close', 'tech_check', bigChecked, null],
    ['close', 'propose', small, null],
  ];
  for (const [from, to, given, want] of table) {
    it(`${from} → ${to} (${given.valueCents} cents${given.activeQuote ? '' : ', no quote'}${given.lineCount ? '' : ', no lines'}): ${want ?? 'allowed'}`, function () {
      assert.equal(code(moveRejection(from, 'open', to, given)), want);
    });
  }

  it('a closed deal moves nowhere', function () {
    for (const status of ['won', 'lost'] as DealStatus[]) {
      for (const to of DEAL_STAGES) assert.equal(code(moveRejection('close', status, to, small)), 'deal_closed');
      assert.deepEqual(movesNow('close', status, small), { allowed: [], blocked: [] });
    }
  });

  it('movesNow lists what is allowed and why the rest is blocked, leaving out skipped stages', function () {
    const now = movesNow('propose', 'open', big);
    assert.deepEqual(now.allowed, ['qualify', 'develop', 'tech_check', 'lost']);
    assert.deepEqual(now.blocked.map((b) => [b.to, b.code]), [['close', 'tech_check_required'], ['won', 'close_stage_required']]);
  });
});

describe('domain/deal: closing and winning', function () {
  const bigChecked = facts({ valueCents: 2_000_001, checks: [{ outcome: 'passed' }] });
  const table: Array<[string, () => { code: string } | null, string | null]> = [
    ['lost from any stage with a reason', () => closeRejection('develop', 'open', 'lost', 'no budget', facts()), null],
    ['lost without a reason', () => closeRejection('develop', 'open', 'lost', '  ', facts()), 'reason_required'],
    ['won outside Close', () => closeRejection('propose', 'open', 'won', null, facts()), 'close_stage_required'],
    ['won without an active quote', () => closeRejection('close', 'open', 'won', null, facts({ quoteCents: null })), 'active_quote_required'],
    ['won at exactly $20,000.00 without a check', () => closeRejection('close', 'open', 'won', null, facts({ valueCents: 2_000_000 })), null],
    ['won above $20,000.00 without a check', () => closeRejection('close', 'open', 'won', null, facts({ valueCents: 2_000_001 })), 'tech_check_required'],
    ['won above $20,000.00 with a passed check', () => closeRejection('close', 'open', 'won', null, bigChecked), null],
    ['closing a closed deal', () => closeRejection('close', 'won', 'lost', 'late', facts()), 'deal_closed'],
    ['winning the active quote', () => winRejection('close', 'open', 'q1', facts()), null],
    ['winning another quote', () => winRejection('close', 'open', 'q2', facts()), 'quote_not_active'],
    ['winning a won quote', () => winRejection('close', 'open', 'q1', facts({ quoteStatus: 'won' })), 'quote_won'],
    ['winning above $20,000.00 without a check', () => winRejection('close', 'open', 'q1', facts({ valueCents: 2_000_001 })), 'tech_check_required'],
    ['changing the offer after its quote was won', () => wonQuoteRejection(facts({ quoteStatus: 'won' })), 'quote_won'],
  ];
  for (const [name, judge, want] of table) {
    it(`${name}: ${want ?? 'allowed'}`, function () {
      assert.equal(code(judge()), want);
    });
  }

  it('a deal in Close whose gate closes again goes back to Tech Check, and only then', function () {
    assert.equal(needsSendBack('close', 'open', facts({ valueCents: 2_000_001 })), true);
    assert.equal(needsSendBack('close', 'open', bigChecked), false);
    assert.equal(needsSendBack('close', 'open', facts({ valueCents: 2_000_000 })), false);
    assert.equal(needsSendBack('propose', 'open', facts({ valueCents: 2_000_001 })), false);
    assert.equal(needsSendBack('close', 'won', facts({ valueCents: 2_000_001 })), false);
  });
});
