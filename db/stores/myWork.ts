/**
 * A person's work list: the activities they own across every record (leads, deals, orders, …),
 * open ones the soonest due first. The overdue rule and the filters are the timelines' own
 * (activities.ts), so an activity is overdue here exactly when it is on its record's timeline.
 */
import type { Knex } from 'knex';
import { fromRow } from '../rows';
import { ACTIVITY_SELECT, applyTimelineFilter, attendeesOf, type Activity, type Attendee, type TimelineFilter } from './timelineActivities';
import type { Page } from './paging';

/** Open ones first, the soonest due first (undated last); then the closed ones, the latest first. */
const WORK_ORDER =
  "(activities.status <> 'open') asc, activities.due_at asc nulls last, coalesce(activities.completed_at, activities.canceled_at) desc nulls last, activities.created_at asc, activities.id asc";

export class MyWorkStore {
  constructor(private readonly db: Knex) {}

  async activities(ownerId: string, filter: TimelineFilter & { dueBefore?: string }, page: Page): Promise<{ items: Array<Activity & { attendees: Attendee[] }>; total: number }> {
    const base = () => {
      const q = this.db('activities').where('activities.owner_id', ownerId);
      applyTimelineFilter(q, filter);
      if (filter.dueBefore) q.where('activities.due_at', '<', filter.dueBefore);
      return q;
    };
    const [{ count }] = await base().count<{ count: number }[]>({ count: '*' });
    const rows = await base().select(ACTIVITY_SELECT(this.db)).orderByRaw(WORK_ORDER).limit(page.limit).offset(page.offset);
    const attendees = await attendeesOf(this.db, rows.map((r: { id: string }) => r.id));
    return { items: rows.map((row: Record<string, unknown>) => ({ ...fromRow<Activity>(row), attendees: attendees.get(row.id as string) ?? [] })), total: Number(count) };
  }
}
