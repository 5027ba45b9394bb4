/** What the service accepts at its edge: storable text, and money within bounds whose sums stay exact. */
import assert from 'node:assert/strict';
import { emailAddress } from '../../api/schemas';
import { MAX_AMOUNT_CENTS, MAX_LINE_CENTS, MAX_LINES, MAX_QUANTITY, MAX_UNIT_PRICE_CENTS, dollars, lineMoneyFault } from '../../domain/money';
import { findBadText, textFault } from '../../domain/text';

describe('storable text', function () {
  it('accepts any Unicode text, emoji and accents included', function () {
    for (const ok of ['', 'Fabrikam', 'Zoë Ñúñez', '数字', '🔒 Smart lock', 'line\nbreak\ttab']) assert.equal(textFault(ok), null, ok);
  });

  it('refuses a NUL character and an unpaired surrogate', function () {
    assert.equal(textFault('Smart\u0000doorbells'), 'nul_character');
    assert.equal(textFault('Door\ud800bells'), 'unpaired_surrogate');
    assert.equal(textFault('\udc00'), 'unpaired_surrogate');
  });

  it('finds the first bad value or key anywhere in a body, by its path', function () {
    assert.deepEqual(findBadText({ name: 'ok', lines: [{ note: 'fine' }, { note: 'bad\u0000' }] }), { path: 'lines.1.note', fault: 'nul_character' });
    assert.deepEqual(findBadText({ ['k\u0000']: 1 }), { path: 'k\u0000', fault: 'nul_character' });
    assert.equal(findBadText({ amount: 12, ok: true, list: ['a', 'b'], none: null }), null);
  });
});

describe('money bounds', function () {
  it('keep every sum the service makes below 2^53', function () {
    assert.ok(MAX_LINES * MAX_LINE_CENTS <= MAX_AMOUNT_CENTS);
    assert.ok(MAX_AMOUNT_CENTS * 1000 < Number.MAX_SAFE_INTEGER, 'a thousand maximal amounts still sum exactly');
  });

  it('accept a line up to the line maximum and refuse one cent more, judged in exact arithmetic', function () {
    assert.equal(lineMoneyFault(1, MAX_UNIT_PRICE_CENTS, 0), null);
    assert.equal(lineMoneyFault(MAX_QUANTITY, MAX_UNIT_PRICE_CENTS, MAX_QUANTITY * MAX_UNIT_PRICE_CENTS - MAX_LINE_CENTS), null);
    assert.equal(lineMoneyFault(MAX_QUANTITY, MAX_UNIT_PRICE_CENTS, 0)?.code, 'line_too_large');
    assert.equal(lineMoneyFault(2, MAX_LINE_CENTS / 2 + 1, 2), null, 'a discount brings it back to the bound');
    assert.equal(lineMoneyFault(2, MAX_LINE_CENTS / 2 + 1, 1)?.field, 'quantity', 'one cent over');
  });

  it('refuse a discount larger than the line', function () {
    assert.deepEqual(lineMoneyFault(2, 100, 201)?.code, 'too_large');
    assert.equal(lineMoneyFault(2, 100, 200), null);
  });

  it('write dollars with thousands separators', function () {
    assert.equal(dollars(2_000_000), '$20,000.00');
    assert.equal(dollars(MAX_AMOUNT_CENTS), '$10,000,000,000.00');
    assert.equal(dollars(5), '$0.05');
  });
});

describe('email addresses', function () {
  // What the fuzzer's JSON Schema validator calls an email (format: email) is what the API takes.
  const table: Array<[string, boolean]> = [
    ['rep@contoso.com', true],
    [`${'a'.repeat(64)}@contoso.com`, true],
    [`${'a'.repeat(65)}@contoso.com`, false],
    [`a@${'b'.repeat(63)}.com`, true],
    [`a@${'b'.repeat(64)}.com`, false],
    ['a@b-.com', false],
    ["o'brien+sales@contoso.com", true],
    [`${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`, false], // 260 characters
  ];
  for (const [address, accepted] of table) {
    it(`${accepted ? 'takes' : 'refuses'} ${address.length > 40 ? `${address.slice(0, 12)}… (${address.length} characters)` : address}`, function () {
      assert.equal(emailAddress().safeParse(address).success, accepted);
    });
  }
});
