/** The Contoso product catalog (seeded by the deals migration): what deal and quote lines name. */
import type { Knex } from 'knex';
import { NotFoundError } from '../../domain/rejection';
import { fromRow } from '../rows';

export const PRODUCT_CATEGORIES = ['doorbell', 'thermostat', 'security_system', 'sensor', 'camera', 'monitoring_plan'] as const;
export type ProductCategory = (typeof PRODUCT_CATEGORIES)[number];

export interface Product {
  id: string;
  sku: string;
  name: string;
  category: ProductCategory;
  description: string | null;
  unit: string;
  listPriceCents: number;
  active: boolean;
  createdAt: string;
}

export interface ProductFilter {
  category?: ProductCategory;
  active?: boolean;
}

export class ProductStore {
  constructor(private readonly db: Knex) {}

  async list(filter: ProductFilter): Promise<Product[]> {
    const q = this.db('products').orderBy([{ column: 'category' }, { column: 'sku' }]);
    if (filter.category) q.where('category', filter.category);
    if (filter.active !== undefined) q.where('active', filter.active);
    return (await q).map((r: Record<string, unknown>) => fromRow<Product>(r));
  }

  async get(id: string, db: Knex = this.db): Promise<Product | null> {
    const row = await db('products').where({ id }).first();
    return row ? fromRow<Product>(row) : null;
  }

  async require(id: string, db: Knex = this.db): Promise<Product> {
    const product = await this.get(id, db);
    if (!product) throw new NotFoundError('product', id);
    return product;
  }
}
