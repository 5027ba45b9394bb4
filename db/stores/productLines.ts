/**
 * Product lines are priced the same way wherever they live (deals, quotes): a catalog product still
 * on sale, its list price unless the rep names one, a discount no larger than the line.
 */
import type { Knex } from 'knex';
import { MAX_LINES, lineMoneyFault } from '../../domain/money';
import { ConflictError, InvalidFieldError } from '../../domain/rejection';

export interface NewProductLine {
  productId: string;
  quantity: number;
  unitPriceCents?: number | null;
  discountCents?: number | null;
}

export function assertLineMoney(quantity: number, unitPriceCents: number, discountCents: number): void {
  const fault = lineMoneyFault(quantity, unitPriceCents, discountCents);
  if (fault) throw new InvalidFieldError(fault.field, fault.code, fault.message);
}

/** Prices `input` from the catalog and appends it to `table`'s lines of `parent`; returns the new line's id. */
export async function insertProductLine(
  trx: Knex.Transaction,
  table: 'deal_lines' | 'quote_lines',
  parent: { column: 'deal_id' | 'quote_id'; id: string },
  input: NewProductLine,
  createdBy: string,
  lineId: string | null = null,
): Promise<string> {
  const product = await trx('products').where({ id: input.productId }).first();
  if (!product) throw new InvalidFieldError('productId', 'not_found', `product ${input.productId} is not in the catalog`);
  if (!product.active) throw new ConflictError('product_inactive', `${product.name} is no longer sold`, 'productId');
  const unitPriceCents = input.unitPriceCents ?? (product.list_price_cents as number);
  const discountCents = input.discountCents ?? 0;
  assertLineMoney(input.quantity, unitPriceCents, discountCents);
  const [{ count, next }] = await trx(table).where({ [parent.column]: parent.id }).select(trx.raw('count(*)::int as count, coalesce(max(position), 0) + 1 as next'));
  if (count >= MAX_LINES) throw new ConflictError('line_limit_reached', `a ${table === 'deal_lines' ? 'deal' : 'quote'} holds at most ${MAX_LINES} product lines`);
  const [{ id }] = await trx(table)
    .insert({ ...(lineId ? { id: lineId } : {}), [parent.column]: parent.id, product_id: input.productId, quantity: input.quantity, unit_price_cents: unitPriceCents, discount_cents: discountCents, position: next, created_by: createdBy })
    .returning('id');
  return id as string;
}
