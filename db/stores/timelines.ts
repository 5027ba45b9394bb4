/**
 * Timelines (SPEC "Activities and the timeline"): one mechanism for every record type. A record's
 * timeline is its own activities plus those of related records, each described once below as a
 * part: "the activities about <type> whose ids <query>". One query takes the union of the parts
 * (an activity met twice keeps the first part that names it), applies the same filters, overdue
 * rule and order to all, and says for each activity which record it came from (`via`).
 * To give a new record type a timeline, add its parts here and its table to REGARDING_TABLES.
 */
import type { Knex } from 'knex';
import { fromRow } from '../rows';
import { ACTIVITY_SELECT, TIMELINE_ORDER, applyTimelineFilter, attendeesOf, type Activity, type Attendee, type TimelineFilter } from './timelineActivities';
import type { Page } from './paging';

export const TIMELINE_RECORD_TYPES = ['lead', 'deal', 'account', 'contact', 'quote', 'order', 'invoice'] as const;
export type TimelineRecordType = (typeof TIMELINE_RECORD_TYPES)[number];

/** How an activity belongs to a timeline: about the record itself, about a related record, or as an attendee. */
export const TIMELINE_VIAS = ['self', 'lead', 'contact', 'deal', 'quote', 'order', 'invoice', 'attendee'] as const;
export type TimelineVia = (typeof TIMELINE_VIAS)[number];

export interface TimelineEntry extends Activity {
  via: TimelineVia;
  attendees: Attendee[];
}

interface Part {
  via: TimelineVia;
  /** A query selecting the ids (as `id`) of the activities this part contributes. */
  activities(db: Knex, id: string): Knex.QueryBuilder;
}

/** The activities about records of `type` whose ids `ids` selects. */
const about = (via: TimelineVia, type: string, ids: (db: Knex, id: string) => Knex.QueryBuilder | string[]): Part => ({
  via,
  activities: (db, id) => db('activities').select('activities.id').where('activities.regarding_type', type).whereIn('activities.regarding_id', ids(db, id)),
});
const self = (type: TimelineRecordType): Part => about('self', type, (_db, id) => [id]);
const ids = (table: string, column: string, select = 'id') => (db: Knex, id: string) => db(table).select(select).where(column, id);
const leadsOfDeals = (column: string) => (db: Knex, id: string) => db('deals').select('lead_id').where(column, id).whereNotNull('lead_id');

/**
 * What each record's timeline shows. A deal shows its lead's earlier activities (SPEC "Leads"); an
 * order its invoices'; a customer — account or contact — everything about its deals (and their
 * leads), quotes, orders and invoices; an account its contacts' too; a contact the appointments
 * they attend.
 */
const PARTS: Record<TimelineRecordType, Part[]> = {
  lead: [self('lead')],
  deal: [self('deal'), about('lead', 'lead', (db, id) => db('deals').select('lead_id').where('id', id).whereNotNull('lead_id'))],
  quote: [self('quote')],
  order: [self('order'), about('invoice', 'invoice', ids('invoices', 'order_id'))],
  invoice: [self('invoice')],
  account: [
    self('account'),
    about('contact', 'contact', ids('contacts', 'parent_account_id')),
    about('deal', 'deal', ids('deals', 'account_id')),
    about('lead', 'lead', leadsOfDeals('account_id')),
    about('quote', 'quote', ids('quotes', 'account_id')),
    about('order', 'order', ids('orders', 'account_id')),
    about('invoice', 'invoice', ids('invoices', 'account_id')),
  ],
  contact: [
    self('contact'),
    { via: 'attendee', activities: (db, id) => db('activity_attendees').select('activity_id as id').where('contact_id', id) },
    about('deal', 'deal', ids('deals', 'contact_id')),
    about('lead', 'lead', leadsOfDeals('contact_id')),
    about('quote', 'quote', ids('quotes', 'contact_id')),
    about('order', 'order', ids('orders', 'contact_id')),
    about('invoice', 'invoice', ids('invoices', 'contact_id')),
  ],
};

export class TimelineStore {
  constructor(private readonly db: Knex) {}

  async timeline(type: TimelineRecordType, id: string, filter: TimelineFilter, page: Page): Promise<{ items: TimelineEntry[]; total: number }> {
    const db = this.db;
    const scope = () => {
      const [first, ...rest] = PARTS[type].map((part, rank) =>
        // Literals, not bindings: knex numbers the bindings of a union of subqueries out of order. Both are ours (TIMELINE_VIAS, an index).
        db.select('p.id', db.raw(`'${part.via}'::text as via`), db.raw(`${Number(rank)}::int as rank`)).from(part.activities(db, id).as('p')),
      );
      const parts = rest.length ? first.unionAll(rest, true) : first;
      return db.select(db.raw('distinct on (parts.id) parts.id, parts.via')).from(parts.as('parts')).orderBy([{ column: 'parts.id' }, { column: 'parts.rank' }]).as('scope');
    };
    const query = () => applyTimelineFilter(db('activities').join(scope(), 'scope.id', 'activities.id'), filter);
    const [rows, [{ count }]] = await Promise.all([
      query().select([...ACTIVITY_SELECT(db), 'scope.via']).orderByRaw(TIMELINE_ORDER).limit(page.limit).offset(page.offset),
      query().count<{ count: number }[]>({ count: '*' }),
    ]);
    const attendees = await attendeesOf(db, rows.filter((r: { type: string }) => r.type === 'appointment').map((r: { id: string }) => r.id));
    const items = rows.map((r: Record<string, unknown>) => ({ ...fromRow<Activity & { via: TimelineVia }>(r), attendees: attendees.get(r.id as string) ?? [] }));
    return { items, total: Number(count) };
  }
}
