/**
 * People's calendars (issue 9): a user's zone, working hours and signature, a lead's or contact's
 * zone (the owner's when unset), and the company's holidays. A sequence pins the calendars it was
 * enrolled with, so a step's time never depends on a read made later.
 */
import type { Knex } from 'knex';
import { NotFoundError } from '../../domain/rejection';
import { DEFAULT_WORKING_HOURS, type WorkingHours } from '../../domain/sequences/time';
import { dateOnly } from '../rows';

export interface UserCalendar {
  zone: string;
  hours: WorkingHours;
  signature: string | null;
  name: string;
}

export interface Holiday {
  day: string;
  name: string;
}

/** Holidays further ahead than this are not pinned into a new enrollment (a sequence is weeks long). */
export const HOLIDAY_HORIZON_DAYS = 400;

export class CalendarStore {
  constructor(private readonly db: Knex) {}

  async user(userId: string): Promise<UserCalendar> {
    const row = await this.db('users').where({ id: userId }).first('time_zone', 'working_hours', 'email_signature', 'name');
    if (!row) throw new NotFoundError('user', userId);
    return { zone: row.time_zone, hours: row.working_hours ?? DEFAULT_WORKING_HOURS, signature: row.email_signature, name: row.name };
  }

  async setUser(userId: string, patch: { zone?: string; hours?: WorkingHours; signature?: string | null }): Promise<UserCalendar> {
    const values: Record<string, unknown> = {};
    if (patch.zone !== undefined) values.time_zone = patch.zone;
    if (patch.hours !== undefined) values.working_hours = JSON.stringify(patch.hours);
    if (patch.signature !== undefined) values.email_signature = patch.signature;
    if (Object.keys(values).length > 0) await this.db('users').where({ id: userId }).update(values);
    return this.user(userId);
  }

  /** The holidays from `fromDay` (a local date) on, within the horizon a sequence can reach. */
  async holidays(fromDay?: string): Promise<Holiday[]> {
    const rows = await this.db('holidays')
      .modify((q) => (fromDay ? q.where('day', '>=', fromDay).where('day', '<', this.db.raw(`?::date + ${HOLIDAY_HORIZON_DAYS}`, [fromDay])) : q))
      .orderBy('day');
    return rows.map((r: { day: unknown; name: string }) => ({ day: dateOnly(r.day)!, name: r.name }));
  }

  async putHoliday(holiday: Holiday): Promise<{ holiday: Holiday; created: boolean }> {
    const [row] = await this.db('holidays').insert(holiday).onConflict('day').merge(['name']).returning(this.db.raw('(xmax = 0) as created'));
    return { holiday, created: Boolean(row.created) };
  }

  async deleteHoliday(day: string): Promise<boolean> {
    return (await this.db('holidays').where({ day }).delete()) > 0;
  }
}
