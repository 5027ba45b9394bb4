/**
 * What deal lines and quote lines share on the way in: the line's path parameters, the bodies
 * that add and change a line, and the product a new line may sell.
 */
import { z } from 'zod';
import { ConflictError, InvalidFieldError, NotFoundError } from '../domain/rejection';
import type { Product, ProductStore } from '../db/stores/products';
import { cents, quantity, unitPriceCents } from './schemas';

/** `/<parent>s/:id/lines/:lineId`: an id that is not a uuid names no record (404 of that record). */
export const lineParams = (parent: 'deal' | 'quote') =>
  z.object({ id: z.string(), lineId: z.string() }).transform(({ id, lineId }) => {
    if (!z.uuid().safeParse(id).success) throw new NotFoundError(parent, id);
    if (!z.uuid().safeParse(lineId).success) throw new NotFoundError(`${parent}_line`, lineId);
    return { id, lineId };
  });

export const addLineBody = z.strictObject({
  productId: z.uuid(),
  quantity: quantity(),
  unitPriceCents: unitPriceCents().optional().describe('Defaults to the product’s list price'),
  discountCents: cents().optional().describe('An amount off the line, at most quantity × unit price'),
});

export const patchLineBody = z
  .strictObject({ quantity: quantity().optional(), unitPriceCents: unitPriceCents().optional(), discountCents: cents().optional() })
  .refine((v) => Object.keys(v).length > 0, { message: 'name at least one field to change', params: { code: 'empty_patch' } });

/** The catalog product a new line sells: it must exist (`productId` not_found) and be sold still. */
export async function sellableProduct(products: ProductStore, productId: string): Promise<Product> {
  const product = await products.get(productId);
  if (!product) throw new InvalidFieldError('productId', 'not_found', `product ${productId} is not in the catalog`);
  if (!product.active) throw new ConflictError('product_inactive', `${product.name} is no longer sold`, 'productId');
  return product;
}
