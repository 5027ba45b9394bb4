/**
 * A sequence's time rules: fixed waits stay exact, business days land on the same local time in
 * the customer's zone across DST changes, windows open and close by the customer's working hours.
 * Pure functions: no server, no clock.
 */
import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import {
  DEFAULT_WORKING_HOURS, describeWait, endOfWorkingDay, isValidWorkingHours, isValidZone, nextWindowStart, waitEnd,
  type Wait, type WorkCalendar,
} from '../../../domain/sequences/time';

const calendar = (zone: string, holidays: string[] = []): WorkCalendar => ({ zone, hours: DEFAULT_WORKING_HOURS, holidays });
const LA = calendar('America/Los_Angeles');
const NY = calendar('America/New_York');
const BERLIN = calendar('Europe/Berlin');
/** Every day, all day: lets a wall time land inside a DST change. */
const ALWAYS = (zone: string): WorkCalendar => ({ zone, hours: { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '23:59' }, holidays: [] });

const utc = (iso: string): number => Date.parse(iso);
/** The local wall time of an instant in a zone, e.g. 'Mon 2026-03-09 10:00 EDT'. */
const local = (ms: number, zone: string): string => DateTime.fromMillis(ms, { zone }).toFormat('ccc yyyy-MM-dd HH:mm ZZZZ', { locale: 'en-US' });
const businessDays = (amount: number): Wait => ({ amount, unit: 'business_days' });

describe('domain/sequences/time: business-day waits', function () {
  it('a Friday 16:59 enrollment in Los Angeles waits one business day to Monday 16:59 there, inside hours', function () {
    const end = waitEnd(utc('2026-12-05T00:59:00Z'), businessDays(1), LA);
    assert.equal(local(end, LA.zone), 'Mon 2026-12-07 16:59 PST');
    assert.equal(end, utc('2026-12-08T00:59:00Z'));
    assert.equal(nextWindowStart(end, LA), end, 'Monday 16:59 is inside working hours');
  });

  it('one business day after Friday 18:00 is Monday 09:00', function () {
    const end = waitEnd(utc('2026-12-05T02:00:00Z'), businessDays(1), LA);
    assert.equal(local(end, LA.zone), 'Mon 2026-12-07 09:00 PST');
  });

  it('a wait from before opening, or exactly at closing, starts the day it lands on at opening', function () {
    assert.equal(local(waitEnd(utc('2026-12-07T14:00:00Z'), businessDays(1), LA), LA.zone), 'Tue 2026-12-08 09:00 PST');
    assert.equal(local(waitEnd(utc('2026-12-08T01:00:00Z'), businessDays(1), LA), LA.zone), 'Tue 2026-12-08 09:00 PST');
  });

  it('counts several business days over a weekend, and from a Saturday the first is Monday', function () {
    assert.equal(local(waitEnd(utc('2026-12-03T18:00:00Z'), businessDays(3), LA), LA.zone), 'Tue 2026-12-08 10:00 PST');
    assert.equal(local(waitEnd(utc('2026-12-05T18:00:00Z'), businessDays(1), LA), LA.zone), 'Mon 2026-12-07 10:00 PST');
  });

  const dst: Array<[string, WorkCalendar, string, string, string]> = [
    ['New York spring forward (2026-03-08)', NY, '2026-03-06T15:00:00Z', 'Mon 2026-03-09 10:00 EDT', '2026-03-09T14:00:00Z'],
    ['New York fall back (2026-11-01)', NY, '2026-10-30T14:00:00Z', 'Mon 2026-11-02 10:00 EST', '2026-11-02T15:00:00Z'],
    ['Berlin spring forward (2026-03-29)', BERLIN, '2026-03-27T09:00:00Z', 'Mon 2026-03-30 10:00 GMT+2', '2026-03-30T08:00:00Z'],
    ['Berlin fall back (2026-10-25)', BERLIN, '2026-10-23T08:00:00Z', 'Mon 2026-10-26 10:00 GMT+1', '2026-10-26T09:00:00Z'],
  ];
  for (const [name, cal, fromIso, wantLocal, wantIso] of dst) {
    it(`Friday 10:00 plus one business day is Monday 10:00 local across the ${name}`, function () {
      assert.match(local(utc(fromIso), cal.zone), /^Fri .* 10:00 /);
      const end = waitEnd(utc(fromIso), businessDays(1), cal);
      assert.equal(local(end, cal.zone), wantLocal);
      assert.equal(end, utc(wantIso));
    });
  }

  it('a local time that does not exist (spring-forward gap) moves forward by the gap', function () {
    const end = waitEnd(utc('2026-03-07T07:30:00Z'), businessDays(1), ALWAYS('America/New_York'));
    assert.equal(local(utc('2026-03-07T07:30:00Z'), 'America/New_York'), 'Sat 2026-03-07 02:30 EST');
    assert.equal(local(end, 'America/New_York'), 'Sun 2026-03-08 03:30 EDT');
    assert.equal(end, utc('2026-03-08T07:30:00Z'));
  });

  it('a local time that happens twice (fall back) is its first, earlier occurrence', function () {
    assert.equal(waitEnd(utc('2026-10-31T05:30:00Z'), businessDays(1), ALWAYS('America/New_York')), utc('2026-11-01T05:30:00Z'));
    assert.equal(local(utc('2026-11-01T05:30:00Z'), 'America/New_York'), 'Sun 2026-11-01 01:30 EDT');
    assert.equal(waitEnd(utc('2026-10-24T00:30:00Z'), businessDays(1), ALWAYS('Europe/Berlin')), utc('2026-10-25T00:30:00Z'));
    assert.equal(local(utc('2026-10-25T00:30:00Z'), 'Europe/Berlin'), 'Sun 2026-10-25 02:30 GMT+2');
  });

  it('skips a holiday in the customer\'s calendar', function () {
    const thanksgiving = calendar('America/New_York', ['2026-11-26']);
    const wednesday11 = utc('2026-11-25T16:00:00Z');
    assert.equal(local(waitEnd(wednesday11, businessDays(1), NY), NY.zone), 'Thu 2026-11-26 11:00 EST');
    assert.equal(local(waitEnd(wednesday11, businessDays(1), thanksgiving), NY.zone), 'Fri 2026-11-27 11:00 EST');
    assert.equal(local(waitEnd(wednesday11, businessDays(2), thanksgiving), NY.zone), 'Mon 2026-11-30 11:00 EST');
  });

  it('zero business days is the next window start', function () {
    assert.equal(waitEnd(utc('2026-12-05T18:00:00Z'), businessDays(0), LA), utc('2026-12-07T17:00:00Z'));
    assert.equal(waitEnd(utc('2026-12-07T20:00:00Z'), businessDays(0), LA), utc('2026-12-07T20:00:00Z'));
  });

  it('refuses a fractional, negative or non-finite amount', function () {
    assert.throws(() => waitEnd(0, businessDays(1.5), LA), /whole number/);
    assert.throws(() => waitEnd(0, businessDays(-1), LA), /≥ 0/);
    assert.throws(() => waitEnd(0, { amount: Number.NaN, unit: 'hours' }, LA), /≥ 0/);
  });
});

describe('domain/sequences/time: fixed waits', function () {
  it('calendar days are exactly 86,400 s each, whatever the zone or a DST change in between', function () {
    const friday = utc('2026-03-06T15:00:00Z');
    for (const cal of [NY, BERLIN, LA]) {
      assert.equal(waitEnd(friday, { amount: 1, unit: 'calendar_days' }, cal) - friday, 86_400_000);
      assert.equal(waitEnd(friday, { amount: 3, unit: 'calendar_days' }, cal) - friday, 259_200_000);
      assert.equal(waitEnd(friday, { amount: 2, unit: 'calendar_days' }, cal) - friday, 172_800_000);
    }
  });

  it('hours are exactly 3,600 s each', function () {
    const saturday = utc('2026-03-07T22:00:00Z');
    assert.equal(waitEnd(saturday, { amount: 4, unit: 'hours' }, NY) - saturday, 4 * 3_600_000);
  });
});

describe('domain/sequences/time: working windows', function () {
  const table: Array<[string, string, string]> = [
    ['on a Saturday: Monday at opening', '2026-12-05T20:00:00Z', 'Mon 2026-12-07 09:00 PST'],
    ['before opening: the same day at opening', '2026-12-07T15:00:00Z', 'Mon 2026-12-07 09:00 PST'],
    ['inside hours: the same instant', '2026-12-07T20:17:00Z', 'Mon 2026-12-07 12:17 PST'],
    ['exactly at closing: the next day at opening', '2026-12-08T01:00:00Z', 'Tue 2026-12-08 09:00 PST'],
    ['after closing on Friday: Monday at opening', '2026-12-05T04:00:00Z', 'Mon 2026-12-07 09:00 PST'],
  ];
  for (const [name, atIso, want] of table) {
    it(`nextWindowStart ${name}`, function () {
      assert.equal(local(nextWindowStart(utc(atIso), LA), LA.zone), want);
    });
  }

  it('nextWindowStart across a DST change opens at 09:00 local of the new offset', function () {
    assert.equal(nextWindowStart(utc('2026-03-07T17:00:00Z'), NY), utc('2026-03-09T13:00:00Z'));
    assert.equal(nextWindowStart(utc('2026-10-30T22:00:00Z'), NY), utc('2026-11-02T14:00:00Z'));
    assert.equal(nextWindowStart(utc('2026-03-28T12:00:00Z'), BERLIN), utc('2026-03-30T07:00:00Z'));
  });

  it('nextWindowStart skips a holiday', function () {
    assert.equal(local(nextWindowStart(utc('2026-11-26T15:00:00Z'), calendar('America/New_York', ['2026-11-26'])), NY.zone), 'Fri 2026-11-27 09:00 EST');
  });

  const ends: Array<[string, string, string]> = [
    ['inside hours: that day\'s closing', '2026-12-07T20:00:00Z', 'Mon 2026-12-07 17:00 PST'],
    ['before opening: that day\'s closing', '2026-12-07T15:00:00Z', 'Mon 2026-12-07 17:00 PST'],
    ['exactly at closing: the next working day\'s', '2026-12-08T01:00:00Z', 'Tue 2026-12-08 17:00 PST'],
    ['on a Saturday: Monday\'s', '2026-12-05T20:00:00Z', 'Mon 2026-12-07 17:00 PST'],
  ];
  for (const [name, atIso, want] of ends) {
    it(`endOfWorkingDay ${name}`, function () {
      assert.equal(local(endOfWorkingDay(utc(atIso), LA), LA.zone), want);
    });
  }

  it('endOfWorkingDay after a Friday close across a DST change is Monday 17:00 local', function () {
    assert.equal(endOfWorkingDay(utc('2026-03-27T17:00:00Z'), BERLIN), utc('2026-03-30T15:00:00Z'));
  });
});

describe('domain/sequences/time: validation and labels', function () {
  it('knows IANA zones and refuses others', function () {
    assert.equal(isValidZone('America/Los_Angeles'), true);
    assert.equal(isValidZone('Europe/Berlin'), true);
    assert.equal(isValidZone('Mars/Olympus_Mons'), false);
    assert.equal(isValidZone(''), false);
    assert.throws(() => nextWindowStart(0, calendar('Mars/Olympus_Mons')), /invalid time zone/);
  });

  it('checks working hours', function () {
    assert.equal(isValidWorkingHours(DEFAULT_WORKING_HOURS), true);
    assert.equal(isValidWorkingHours({ days: [1, 2, 3, 4, 5], start: '17:00', end: '09:00' }), false);
    assert.equal(isValidWorkingHours({ days: [1, 2, 3, 4, 5], start: '09:00', end: '09:00' }), false);
    assert.equal(isValidWorkingHours({ days: [1, 2, 3, 4, 5], start: '9:00', end: '17:00' }), false);
    assert.equal(isValidWorkingHours({ days: [1, 2, 3, 4, 5], start: '09:00', end: '24:00' }), false);
    assert.equal(isValidWorkingHours({ days: [0, 1], start: '09:00', end: '17:00' }), false);
    assert.equal(isValidWorkingHours({ days: [1, 1], start: '09:00', end: '17:00' }), false);
    assert.equal(isValidWorkingHours({ days: [], start: '09:00', end: '17:00' }), false);
  });

  it('throws instead of looping when a calendar has no working day', function () {
    const noDays: WorkCalendar = { zone: 'UTC', hours: { days: [], start: '09:00', end: '17:00' }, holidays: [] };
    assert.throws(() => waitEnd(0, businessDays(1), noDays), /invalid working hours/);
    // Mondays only, and every Monday of 2026–2030 a holiday.
    const mondays: string[] = [];
    for (let d = DateTime.fromISO('2026-01-05', { zone: 'utc' }); d.year < 2031; d = d.plus({ weeks: 1 })) mondays.push(d.toISODate() ?? '');
    const never: WorkCalendar = { zone: 'UTC', hours: { days: [1], start: '09:00', end: '17:00' }, holidays: mondays };
    assert.throws(() => waitEnd(utc('2026-12-01T10:00:00Z'), businessDays(1), never), /no working day within 1098 days after 2026-12-01/);
    assert.throws(() => nextWindowStart(utc('2026-12-01T10:00:00Z'), never), /no working day/);
    assert.throws(() => endOfWorkingDay(utc('2026-12-01T10:00:00Z'), never), /no working day/);
  });

  it('never reads the clock (the workflow replays it), luxon included', function () {
    const realNow = Date.now;
    Date.now = () => { throw new Error('read the clock'); };
    try {
      const from = utc('2026-10-30T14:00:00Z');
      for (const cal of [NY, BERLIN, ALWAYS('America/New_York')]) {
        waitEnd(from, businessDays(1), cal);
        waitEnd(from, businessDays(0), cal);
        nextWindowStart(from, cal);
        endOfWorkingDay(from, cal);
      }
      waitEnd(utc('2026-10-31T05:30:00Z'), businessDays(1), ALWAYS('America/New_York'));
    } finally {
      Date.now = realNow;
    }
  });

  it('labels waits', function () {
    assert.equal(describeWait({ amount: 1, unit: 'calendar_days' }), '1 day');
    assert.equal(describeWait({ amount: 3, unit: 'calendar_days' }), '3 days');
    assert.equal(describeWait({ amount: 1, unit: 'business_days' }), '1 business day');
    assert.equal(describeWait({ amount: 3, unit: 'business_days' }), '3 business days');
    assert.equal(describeWait({ amount: 1, unit: 'hours' }), '1 hour');
    assert.equal(describeWait({ amount: 4, unit: 'hours' }), '4 hours');
  });
});
