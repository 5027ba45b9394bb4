/** The product catalog deal and quote lines name (read-only here; seeded by the deals migration). */
import { z } from 'zod';
import type { Db } from '../../db/knex';
import { PRODUCT_CATEGORIES, ProductStore } from '../../db/stores/products';
import { route, type RouteSpec } from '../http';
import { idParams, isoDateTime } from '../schemas';

export const productSchema = z.object({
  id: z.uuid(),
  sku: z.string(),
  name: z.string(),
  category: z.enum(PRODUCT_CATEGORIES),
  description: z.string().nullable(),
  unit: z.string().describe('each, or year for monitoring plans'),
  listPriceCents: z.number().int(),
  active: z.boolean(),
  createdAt: isoDateTime(),
});

export function productRoutes({ db }: { db: Db }): RouteSpec[] {
  const products = new ProductStore(db);
  return [
    route({
      method: 'get', path: '/products', tag: 'Products', summary: 'The catalog, by category',
      query: z.object({ category: z.enum(PRODUCT_CATEGORIES).optional(), active: z.enum(['true', 'false']).transform((v) => v === 'true').optional() }),
      responses: { 200: { description: 'The products', schema: z.object({ data: z.array(productSchema) }) } },
      async handler({ query }) {
        return { status: 200, body: { data: await products.list(query) } };
      },
    }),
    route({
      method: 'get', path: '/products/:id', tag: 'Products', summary: 'A product', params: idParams('product'),
      responses: { 200: { description: 'The product', schema: productSchema }, 404: { description: 'No such product' } },
      async handler({ params: { id } }) {
        return { status: 200, body: await products.require(id) };
      },
    }),
  ];
}
