/** Rows as the API shows them: a `date` column is always `YYYY-MM-DD`, as the document says. */
import assert from 'node:assert/strict';
import { dateOnly } from '../../db/rows';

describe('dates read from Postgres', function () {
  it('are YYYY-MM-DD in local calendar terms, a year before 1000 with its leading zeros', function () {
    assert.equal(dateOnly(new Date(2026, 10, 30)), '2026-11-30');
    assert.equal(dateOnly(new Date(405, 7, 10)), '0405-08-10');
    assert.equal(dateOnly(null), null);
  });
});
