/**
 * Every record's timeline (SPEC "Activities and the timeline"), one route per record type from the
 * same declaration: `GET /{leads|deals|accounts|contacts|quotes|orders|invoices}/:id/timeline`, with
 * the same filters (`type`, `status` incl. `overdue`), order and paging. What each includes besides
 * the record's own activities is db/stores/timelines.ts's to say; each entry's `via` tells.
 */
import type { Db } from '../../db/knex';
import { NotFoundError } from '../../domain/rejection';
import { REGARDING_TABLES } from '../../db/stores/timelineActivities';
import { TIMELINE_RECORD_TYPES, TimelineStore, type TimelineRecordType } from '../../db/stores/timelines';
import { route, type RouteSpec } from '../http';
import { idParams } from '../schemas';
import { timelineQuery, timelineResponse, toTimelineFilter } from '../views/timeline';

const WHAT: Record<TimelineRecordType, { path: string; summary: string }> = {
  lead: { path: 'leads', summary: "A lead's timeline" },
  deal: { path: 'deals', summary: "A deal's timeline, with its lead's earlier activities" },
  account: { path: 'accounts', summary: "An account's timeline, with its contacts', deals' (and their leads'), quotes', orders' and invoices' activities" },
  contact: { path: 'contacts', summary: "A contact's timeline, with the appointments they attend and their deals', quotes', orders' and invoices' activities" },
  quote: { path: 'quotes', summary: "A quote's timeline" },
  order: { path: 'orders', summary: "An order's timeline, with its invoices' activities (the overdue tasks among them)" },
  invoice: { path: 'invoices', summary: "An invoice's timeline" },
};

export function timelineRoutes({ db }: { db: Db }): RouteSpec[] {
  const timelines = new TimelineStore(db);
  return TIMELINE_RECORD_TYPES.map((type) =>
    route({
      method: 'get', path: `/${WHAT[type].path}/:id/timeline`, tag: 'Timeline', summary: WHAT[type].summary,
      description: 'Activities newest first (open ones by due date, closed ones by when they were closed), filtered by `type` and `status`; open activities past due are flagged `overdue` and `status=overdue` selects them. `via` says which record each came from.',
      params: idParams(type), query: timelineQuery,
      responses: { 200: { description: 'A page of activities', schema: timelineResponse }, 404: { description: `No such ${type}` } },
      async handler({ params: { id }, query }) {
        if (!(await db(REGARDING_TABLES[type]).where({ id }).first('id'))) throw new NotFoundError(type, id);
        const { limit, offset } = query;
        const { items, total } = await timelines.timeline(type, id, toTimelineFilter(query), { limit, offset });
        return { status: 200, body: { data: items, page: { limit, offset, total } } };
      },
    }),
  );
}
