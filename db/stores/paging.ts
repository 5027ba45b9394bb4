/** One page of a filtered list and the total it is taken from: the shape every list endpoint answers. */
import type { Knex } from 'knex';

export interface Page {
  limit: number;
  offset: number;
}

export type OrderBy = Array<{ column: string; order?: 'asc' | 'desc' }>;

/** Newest first, ties broken by id so pages never overlap. */
export const NEWEST_FIRST: OrderBy = [{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }];

export async function listPage<T>(
  filtered: () => Knex.QueryBuilder,
  order: OrderBy,
  page: Page,
  map: (row: Record<string, unknown>) => T,
): Promise<{ items: T[]; total: number }> {
  const [rows, [{ count }]] = await Promise.all([
    filtered().orderBy(order).limit(page.limit).offset(page.offset),
    filtered().count<{ count: number }[]>({ count: '*' }),
  ]);
  return { items: (rows as Record<string, unknown>[]).map(map), total: Number(count) };
}
