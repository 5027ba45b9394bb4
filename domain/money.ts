/**
 * Money is integer cents of US dollars, end to end. The bounds below are far above what Contoso
 * sells (its devices cost tens to thousands of dollars; a corporate deal reaches millions) and are
 * chosen so that no amount, and no sum the service makes of them, can pass 2^53: every figure a
 * JavaScript number holds is exact. The API documents them in its schemas and refuses anything
 * outside with a 400 naming the field; the stores check them again on the rows they write.
 */

/** The largest price of one unit: $100,000,000.00. */
export const MAX_UNIT_PRICE_CENTS = 10_000_000_000;
/** The most units on one line. */
export const MAX_QUANTITY = 1_000_000;
/** The largest line after its discount: $100,000,000.00. */
export const MAX_LINE_CENTS = 10_000_000_000;
/** The most product lines one deal or quote (and so one order or invoice) may carry. */
export const MAX_LINES = 100;
/**
 * The largest single amount (an estimate, a revenue, a payment, a document's total):
 * $10,000,000,000.00 = MAX_LINES × MAX_LINE_CENTS. Sums of many such amounts (an account's rollup)
 * are made by Postgres and read back only while they stay exact (db/knex.ts).
 */
export const MAX_AMOUNT_CENTS = MAX_LINES * MAX_LINE_CENTS;

export type LineMoneyFault =
  | { field: 'discountCents'; code: 'too_large'; message: string }
  | { field: 'quantity' | 'unitPriceCents'; code: 'line_too_large'; message: string };

/**
 * A line's money is acceptable when the discount fits in the line and the net stays within
 * MAX_LINE_CENTS. Computed in BigInt: quantity × unit price may itself pass 2^53.
 */
export function lineMoneyFault(quantity: number, unitPriceCents: number, discountCents: number): LineMoneyFault | null {
  const gross = BigInt(quantity) * BigInt(unitPriceCents);
  if (BigInt(discountCents) > gross) {
    return { field: 'discountCents', code: 'too_large', message: `the discount (${discountCents} cents) exceeds the line's ${gross} cents` };
  }
  if (gross - BigInt(discountCents) > BigInt(MAX_LINE_CENTS)) {
    return {
      field: quantity > 1 ? 'quantity' : 'unitPriceCents', code: 'line_too_large',
      message: `a line may come to at most ${dollars(MAX_LINE_CENTS)} after its discount; this one is ${gross - BigInt(discountCents)} cents`,
    };
  }
  return null;
}

/** `$20,000.00` from 2_000_000. */
export function dollars(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}$${whole}.${String(abs % 100).padStart(2, '0')}`;
}
