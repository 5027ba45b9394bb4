/**
 * When a sequence's next step is due, in the customer's own time zone and working hours. The
 * sequence workflow computes its timers from these, so every function is deterministic given its
 * arguments: time comes in and goes out as epoch milliseconds, nothing reads the clock, and every
 * zone and daylight-saving rule is luxon's (over the IANA database of the runtime's Intl), never
 * ours.
 *
 * Local wall-clock times that do not exist or happen twice are resolved the same way everywhere:
 * - a time in a spring-forward gap moves forward by the gap (02:30 on 2026-03-08 in New York is
 *   03:30 EDT);
 * - a time that happens twice (fall-back) is its first occurrence, the earlier instant (01:30 on
 *   2026-11-01 in New York is 01:30 EDT, 05:30Z).
 * Whether an instant is inside working hours is judged on the local wall clock: start inclusive,
 * end exclusive (17:00 is closed).
 * Holidays that are not valid 'yyyy-MM-dd' dates never match a day; they are not an error.
 */
import { DateTime, IANAZone } from 'luxon';

/** ISO weekdays 1 = Monday … 7 = Sunday; times 'HH:mm' local, start < end. */
export interface WorkingHours { days: number[]; start: string; end: string }

/** Mon–Fri 09:00–17:00. Frozen: copy it to change it. */
export const DEFAULT_WORKING_HOURS: WorkingHours = { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' };
Object.freeze(DEFAULT_WORKING_HOURS.days);
Object.freeze(DEFAULT_WORKING_HOURS);

/** A person's calendar: IANA zone, working hours, holidays as local dates 'yyyy-MM-dd'. */
export interface WorkCalendar { zone: string; hours: WorkingHours; holidays: string[] }

export type WaitUnit = 'calendar_days' | 'business_days' | 'hours';
export const WAIT_UNITS: readonly WaitUnit[] = ['calendar_days', 'business_days', 'hours'];

/**
 * A pause between two steps. `calendar_days` and `hours` are fixed durations (amount × 86,400,000
 * or × 3,600,000 ms, whatever the zone or DST: a 1-day gap is always 86,400 s); `business_days`
 * counts working days of the calendar (see `waitEnd`) and must be a whole number.
 */
export interface Wait { amount: number; unit: WaitUnit }

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
/** How far a search for the next working day looks before it declares the calendar unusable. */
export const MAX_WALK_DAYS = 3 * 366;

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** A calendar checked once; start and end in ms after local midnight. */
interface Rules { zone: string; days: Set<number>; holidays: Set<string>; start: number; end: number }
/** A local date (midnight UTC) and a wall-clock time of day (ms after local midnight). */
interface Wall { date: DateTime; time: number }

/** An IANA zone name the runtime knows ('America/New_York', 'UTC'); not a fixed offset. */
export function isValidZone(zone: string): boolean {
  // IANAZone.create caches the zone and its validity; isValidZone builds an Intl formatter per call.
  return typeof zone === 'string' && zone !== '' && IANAZone.create(zone).isValid;
}

/** At least one weekday, each an integer 1–7 listed once; 'HH:mm' times (00:00–23:59), start < end. */
export function isValidWorkingHours(hours: WorkingHours): boolean {
  const { days, start, end } = hours;
  return Array.isArray(days) && days.length > 0 && new Set(days).size === days.length
    && days.every((d) => Number.isInteger(d) && d >= 1 && d <= 7)
    && HH_MM.test(start) && HH_MM.test(end) && start < end;
}

/** Human label of a wait: '1 day', '3 business days', '4 hours'. */
export function describeWait(wait: Wait): string {
  const noun = { calendar_days: 'day', business_days: 'business day', hours: 'hour' }[wait.unit];
  return `${wait.amount} ${noun}${wait.amount === 1 ? '' : 's'}`;
}

/**
 * When a wait of `wait` that starts at `fromMs` ends.
 * - `calendar_days`: exactly amount × 86,400,000 ms later (the calendar is not consulted).
 * - `hours`: exactly amount × 3,600,000 ms later (the calendar is not consulted).
 * - `business_days`: the amount-th working day after the local date of `fromMs` (skipping
 *   weekdays not in the hours and holidays), at the same local wall-clock time, so 10:00 stays
 *   10:00 across a DST change. A time before that day's start, or at/after its end, becomes the
 *   day's start (one business day after Friday 18:00 is Monday 09:00). From a Saturday, the first
 *   business day is Monday. amount 0 = `nextWindowStart(fromMs)`.
 * Throws on a negative or non-finite amount, a fractional business-day amount, an invalid calendar,
 * or a calendar with no working day within MAX_WALK_DAYS.
 */
export function waitEnd(fromMs: number, wait: Wait, calendar: WorkCalendar): number {
  checkInstant(fromMs);
  const { amount, unit } = wait;
  if (!Number.isFinite(amount) || amount < 0) throw new Error(`wait amount must be a finite number ≥ 0, got ${amount}`);
  switch (unit) {
    case 'calendar_days': return fromMs + amount * DAY_MS;
    case 'hours': return fromMs + amount * HOUR_MS;
    case 'business_days': {
      if (!Number.isInteger(amount)) throw new Error(`business_days must be a whole number, got ${amount}`);
      if (amount === 0) return nextWindowStart(fromMs, calendar);
      const rules = compile(calendar);
      const from = wallOf(fromMs, rules.zone);
      let day = from.date;
      for (let i = 0; i < amount; i++) day = nextWorkingDate(day, rules);
      const inside = from.time >= rules.start && from.time < rules.end;
      return instantAt(day, inside ? from.time : rules.start, rules.zone);
    }
    default: throw new Error(`unknown wait unit ${String(unit)}`);
  }
}

/**
 * `atMs` if it is inside working hours (start inclusive, end exclusive) of a working (non-holiday)
 * day in the calendar's zone, else the start of the next window: today's start if the day is a
 * working day not yet open, otherwise the next working day's start.
 */
export function nextWindowStart(atMs: number, calendar: WorkCalendar): number {
  checkInstant(atMs);
  const rules = compile(calendar);
  const { date, time } = wallOf(atMs, rules.zone);
  if (isWorkingDate(date, rules)) {
    if (time < rules.start) return instantAt(date, rules.start, rules.zone);
    if (time < rules.end) return atMs;
  }
  return instantAt(nextWorkingDate(date, rules), rules.start, rules.zone);
}

/**
 * The end of the working day in which `atMs` falls (also before that day's start); if `atMs` is
 * at/after that day's end, or on a non-working day, the end of the next working day.
 */
export function endOfWorkingDay(atMs: number, calendar: WorkCalendar): number {
  checkInstant(atMs);
  const rules = compile(calendar);
  const { date, time } = wallOf(atMs, rules.zone);
  if (isWorkingDate(date, rules) && time < rules.end) return instantAt(date, rules.end, rules.zone);
  return instantAt(nextWorkingDate(date, rules), rules.end, rules.zone);
}

function checkInstant(ms: number): void {
  if (!Number.isFinite(ms)) throw new Error(`time must be epoch milliseconds, got ${ms}`);
}

function compile(calendar: WorkCalendar): Rules {
  if (!isValidZone(calendar.zone)) throw new Error(`invalid time zone ${JSON.stringify(calendar.zone)}`);
  if (!isValidWorkingHours(calendar.hours)) throw new Error(`invalid working hours ${JSON.stringify(calendar.hours)}`);
  return {
    zone: calendar.zone,
    days: new Set(calendar.hours.days),
    holidays: new Set(calendar.holidays),
    start: parseTime(calendar.hours.start),
    end: parseTime(calendar.hours.end),
  };
}

/** 'HH:mm' as milliseconds after local midnight on the wall clock. */
function parseTime(hhmm: string): number {
  const [, hour, minute] = HH_MM.exec(hhmm) ?? [];
  return (Number(hour) * 60 + Number(minute)) * 60_000;
}

/**
 * An instant as the zone's clocks show it: the local date, held as midnight UTC so that stepping
 * and weekdays involve no zone at all, and the wall-clock time of day in ms (only `instantAt`
 * brings the zone back).
 */
function wallOf(ms: number, zone: string): Wall {
  const wall = ms + DateTime.fromMillis(ms, { zone }).offset * 60_000;
  const midnight = Math.floor(wall / DAY_MS) * DAY_MS;
  return { date: DateTime.fromMillis(midnight, { zone: 'utc' }), time: wall - midnight };
}

function isWorkingDate(date: DateTime, rules: Rules): boolean {
  return rules.days.has(date.weekday) && !rules.holidays.has(date.toISODate() ?? '');
}

function nextWorkingDate(date: DateTime, rules: Rules): DateTime {
  for (let i = 1; i <= MAX_WALK_DAYS; i++) {
    const next = date.plus({ days: i });
    if (isWorkingDate(next, rules)) return next;
  }
  throw new Error(`no working day within ${MAX_WALK_DAYS} days after ${date.toISODate()} in ${rules.zone} (weekdays ${[...rules.days].join(',')}, ${rules.holidays.size} holidays)`);
}

/**
 * The instant at which the zone's clocks show `time` (ms after local midnight) on `date`. Built
 * from a UTC wall time so that luxon's first offset guess comes from the arguments, not from the
 * clock (fromObject would read Date.now()); luxon moves a time in a gap forward by the gap, and of
 * the two instants of a repeated time we take the earlier.
 */
function instantAt(date: DateTime, time: number, zone: string): number {
  const local = DateTime.fromMillis(date.toMillis() + time, { zone: 'utc' }).setZone(zone, { keepLocalTime: true });
  return Math.min(...local.getPossibleOffsets().map((candidate) => candidate.toMillis()));
}
