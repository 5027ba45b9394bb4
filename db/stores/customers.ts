/**
 * The customer view (SPEC "One view of the customer") as people read it: finding profiles,
 * and one profile with its source records, every POS and online purchase with totals, loyalty
 * points and the CRM records of the same person (matched by e-mail). The CRM tables of deals,
 * contacts and accounts come from another area: they are read only where they exist, so this
 * store works before and after they do.
 */
import type { Knex } from 'knex';
import { phoneDigits } from '../../domain/customers/normalize';
import { fromRow } from '../rows';
import type { Page } from './paging';

export interface CustomerProfile {
  id: string;
  firstName: string | null;
  lastName: string | null;
  fullName: string | null;
  email: string | null;
  phone: string | null;
  dateOfBirth: string | null;
  gender: string | null;
  postalCode: string | null;
  street: string | null;
  city: string | null;
  state: string | null;
  country: string | null;
  rewardPoints: number | null;
  sourceKeys: Record<string, string[]>;
  emails: string[];
  recordCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface CustomerSourceRecord {
  source: string;
  sourceKey: string;
  rule: string | null;
  confidence: number;
  firstName: string | null;
  lastName: string | null;
  fullName: string | null;
  email: string | null;
  phone: string | null;
  dateOfBirth: string | null;
  gender: string | null;
  postalCode: string | null;
  street: string | null;
  city: string | null;
  state: string | null;
  country: string | null;
  createdOn: string | null;
  rewardPoints: number | null;
  links: Record<string, string>;
  extra: Record<string, unknown>;
  updatedAt: string;
}

export interface CustomerPurchase {
  source: string;
  purchaseId: string;
  channel: 'pos' | 'online';
  customerSource: string;
  customerKey: string;
  productId: string | null;
  purchasedOn: string;
  totalCents: number;
  pointsAdded: number | null;
}

export interface PurchaseTotals {
  count: number;
  lifetimeCents: number;
  posCents: number;
  onlineCents: number;
  last12MonthsCents: number;
  /** The window of "last 12 months": (asOf − 12 months, asOf]. */
  asOf: string;
}

export interface CrmSide {
  /** Which CRM tables exist on this database (contacts, accounts and deals arrive with the deals area). */
  available: string[];
  leads: Array<Record<string, unknown>>;
  contacts: Array<Record<string, unknown>>;
  accounts: Array<Record<string, unknown>>;
  deals: Array<Record<string, unknown>>;
  activities: Array<Record<string, unknown>>;
}

const DATE = (column: string, as = column.split('.').pop()!) => `to_char(${column}, 'YYYY-MM-DD') as ${as}`;
const profileSelect = (a: string) =>
  [`${a}.id`, `${a}.first_name`, `${a}.last_name`, `${a}.full_name`, `${a}.email`, `${a}.phone`, DATE(`${a}.date_of_birth`), `${a}.gender`, `${a}.postal_code`,
    `${a}.street`, `${a}.city`, `${a}.state`, `${a}.country`, `${a}.reward_points`, `${a}.source_keys`, `${a}.emails`, `${a}.record_count`, `${a}.created_at`, `${a}.updated_at`].join(', ');

/** Caps what one profile view returns; totals always cover everything. */
export const MAX_PURCHASES_SHOWN = 1000;
const MAX_CRM_ROWS = 200;

export class CustomerStore {
  private readonly tables = new Set<string>();

  constructor(private readonly db: Knex) {}

  /** A table of another area, once it exists (a positive answer is remembered). */
  private async has(table: string): Promise<boolean> {
    if (this.tables.has(table)) return true;
    const exists = await this.db.schema.hasTable(table);
    if (exists) this.tables.add(table);
    return exists;
  }

  async get(id: string): Promise<CustomerProfile | null> {
    const row = await this.db('customers as c').where('c.id', id).first(this.db.raw(profileSelect('c')));
    return row ? fromRow<CustomerProfile>(row) : null;
  }

  /** The profile a merged-away id now lives in. */
  async redirect(id: string): Promise<string | null> {
    const row = await this.db('customer_id_redirects').where({ old_id: id }).first('new_id');
    return row?.new_id ?? null;
  }

  /**
   * Profiles whose source records match `q`: a ContactId or LoyaltyId, an e-mail address (or its
   * beginning), a phone number (any format), a postal code, or name words (each the beginning
   * of a first or last name).
   */
  async search(q: string | undefined, page: Page): Promise<{ items: CustomerProfile[]; total: number }> {
    const text = q?.trim() ?? '';
    const matching = this.db('customer_source_records as r').join('customer_members as m', 'm.record_id', 'r.id').distinct('m.customer_id');
    if (text) {
      const lower = text.toLowerCase();
      matching.where((w) => {
        w.whereRaw('lower(r.source_key) = ?', [lower]);
        if (text.includes('@')) w.orWhereRaw('lower(r.email) like ?', [`${lower.replace(/[%_\\]/g, '\\$&')}%`]);
        const digits = phoneDigits(text);
        if (/^[\d\s().+-]+$/.test(text) && digits.length >= 7) w.orWhereIn('r.phone_digits', [digits, `1${digits}`]);
        if (/^[a-z0-9 -]{3,10}$/i.test(text)) w.orWhere('r.postal_code', text);
        const words = lower.split(/[\s,]+/).filter((t) => /^[\p{L}'.-]+$/u.test(t));
        if (words.length) {
          w.orWhere((names) => {
            for (const word of words) {
              const prefix = word.replace(/[%_\\]/g, '\\$&');
              // Accents and case do not matter: "chloe" finds "Chloé" (search_fold, an indexed expression).
              names.where((n) => n.whereRaw("search_fold(r.first_name) like search_fold(?) || '%'", [prefix]).orWhereRaw("search_fold(r.last_name) like search_fold(?) || '%'", [prefix]));
            }
          });
        }
      });
    }
    const base = this.db('customers as c').whereIn('c.id', matching);
    const [rows, [{ count }]] = await Promise.all([
      base.clone().select(this.db.raw(profileSelect('c')))
        .orderBy([{ column: 'c.last_name' }, { column: 'c.first_name' }, { column: 'c.id' }]).limit(page.limit).offset(page.offset),
      base.clone().count<{ count: number }[]>({ count: '*' }),
    ]);
    return { items: rows.map((r: Record<string, unknown>) => fromRow<CustomerProfile>(r)), total: Number(count) };
  }

  async records(customerId: string): Promise<CustomerSourceRecord[]> {
    const rows = await this.db('customer_members as m')
      .join('customer_source_records as r', 'r.id', 'm.record_id')
      .where('m.customer_id', customerId)
      .orderBy(['r.source', 'r.source_key'])
      .select(this.db.raw(`r.source, r.source_key, m.rule, m.confidence, r.first_name, r.last_name, r.full_name, r.email, r.phone,
        ${DATE('r.date_of_birth')}, r.gender, r.postal_code, r.street, r.city, r.state, r.country, ${DATE('r.created_on')}, r.reward_points,
        r.links, r.extra, r.updated_at`));
    return rows.map((r: Record<string, unknown>) => fromRow<CustomerSourceRecord>(r));
  }

  private purchasesOf(customerId: string): Knex.QueryBuilder {
    return this.db('customer_purchases as p')
      .join('customer_source_records as r', (j) => j.on('r.source', 'p.customer_source').andOn('r.source_key', 'p.customer_key'))
      .join('customer_members as m', 'm.record_id', 'r.id')
      .where('m.customer_id', customerId);
  }

  async purchases(customerId: string, asOf: string): Promise<{ items: CustomerPurchase[]; totals: PurchaseTotals; pointsEarned: number }> {
    const [rows, [totals]] = await Promise.all([
      this.purchasesOf(customerId)
        .orderBy([{ column: 'p.purchased_on', order: 'desc' }, { column: 'p.purchase_id', order: 'desc' }])
        .limit(MAX_PURCHASES_SHOWN)
        .select(this.db.raw(`p.source, p.purchase_id, p.channel, p.customer_source, p.customer_key, p.product_id, ${DATE('p.purchased_on')}, p.total_cents, p.points_added`)),
      this.purchasesOf(customerId).select(this.db.raw(
        `count(*)::int as count, coalesce(sum(p.total_cents), 0)::bigint as lifetime,
         coalesce(sum(p.total_cents) filter (where p.channel = 'pos'), 0)::bigint as pos,
         coalesce(sum(p.total_cents) filter (where p.channel = 'online'), 0)::bigint as online,
         coalesce(sum(p.total_cents) filter (where p.purchased_on > (?::date - interval '12 months') and p.purchased_on <= ?::date), 0)::bigint as last12,
         coalesce(sum(p.points_added), 0)::bigint as points`, [asOf, asOf])),
    ]);
    return {
      items: rows.map((r: Record<string, unknown>) => fromRow<CustomerPurchase>(r)),
      totals: { count: totals.count, lifetimeCents: totals.lifetime, posCents: totals.pos, onlineCents: totals.online, last12MonthsCents: totals.last12, asOf },
      pointsEarned: totals.points,
    };
  }

  /** The CRM records of the same person: every table that has an e-mail of the profile. */
  async crm(emails: string[]): Promise<CrmSide> {
    const out: CrmSide = { available: [], leads: [], contacts: [], accounts: [], deals: [], activities: [] };
    const wanted = emails.map((e) => e.toLowerCase());
    for (const table of ['leads', 'contacts', 'accounts', 'deals', 'activities']) if (await this.has(table)) out.available.push(table);
    if (wanted.length === 0) return out;
    const rows = (list: Array<Record<string, unknown>>) => list.map((r) => fromRow<Record<string, unknown>>(r));
    if (out.available.includes('leads')) {
      out.leads = rows(await this.db('leads').whereRaw('lower(email) = any(?)', [wanted]).orderBy('created_at', 'desc').limit(MAX_CRM_ROWS));
    }
    if (out.available.includes('contacts')) {
      out.contacts = rows(await this.db('contacts').whereRaw('lower(email) = any(?)', [wanted]).orderBy('created_at', 'desc').limit(MAX_CRM_ROWS));
    }
    const contactIds = out.contacts.map((c) => c.id as string);
    if (out.available.includes('deals') && contactIds.length) {
      out.deals = rows(await this.db('deals').whereIn('contact_id', contactIds).orderBy('created_at', 'desc').limit(MAX_CRM_ROWS));
    }
    if (out.available.includes('accounts')) {
      // The companies the person belongs to, and those of their deals.
      const accountIds = [...new Set([...out.contacts.map((c) => c.parentAccountId), ...out.deals.map((d) => d.accountId)].filter((v): v is string => typeof v === 'string'))];
      if (accountIds.length) out.accounts = rows(await this.db('accounts').whereIn('id', accountIds).orderBy('name').limit(MAX_CRM_ROWS));
    }
    if (out.available.includes('activities')) {
      const regarding: Array<[string, string[]]> = [
        ['lead', out.leads.map((l) => l.id as string)], ['contact', contactIds], ['deal', out.deals.map((d) => d.id as string)],
      ];
      const q = this.db('activities').where((w) => {
        for (const [type, ids] of regarding) if (ids.length) w.orWhere((x) => x.where('regarding_type', type).whereIn('regarding_id', ids));
      });
      if (regarding.some(([, ids]) => ids.length)) {
        out.activities = rows(await q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(MAX_CRM_ROWS));
      }
    }
    return out;
  }
}

/** CSV column → SQL expression, after CustomerId, Source, SourceKey. */
export const EXPORT_COLUMNS: Array<[string, string]> = [
  ['FirstName', 'c.first_name'], ['LastName', 'c.last_name'], ['FullName', 'c.full_name'], ['Email', 'c.email'], ['Phone', 'c.phone'],
  ['DateOfBirth', "to_char(c.date_of_birth, 'YYYY-MM-DD')"], ['Gender', 'c.gender'], ['PostalCode', 'c.postal_code'], ['Street', 'c.street'],
  ['City', 'c.city'], ['State', 'c.state'], ['Country', 'c.country'], ['RewardPoints', 'c.reward_points'], ['RecordCount', 'c.record_count'],
  ['ContactIds', "array_to_string(array(select jsonb_array_elements_text(c.source_keys->'contacts')), ';')"],
  ['LoyaltyIds', "array_to_string(array(select jsonb_array_elements_text(c.source_keys->'loyalty')), ';')"],
];

/** `COPY ... TO STDOUT` of the export (`npm run customers:export`): one CSV row per source record. */
export function exportQuery(): string {
  return `copy (
    select m.customer_id as "CustomerId", r.source as "Source", r.source_key as "SourceKey",
           ${EXPORT_COLUMNS.map(([name, expr]) => `${expr} as "${name}"`).join(', ')}
    from customer_members m
    join customer_source_records r on r.id = m.record_id
    join customers c on c.id = m.customer_id
    order by m.customer_id, r.source, r.source_key
  ) to stdout with (format csv, header)`;
}
