/** The worker's activity registry: one name, one implementation, or no start. */
import assert from 'node:assert/strict';
import { mergeActivities } from '../../worker/activities';

describe('the activity registry', function () {
  it('keeps every area\'s activities under their own names', function () {
    const a = () => 'a';
    const b = () => 'b';
    const merged = mergeActivities({ one: { a }, two: { b } });
    assert.equal(merged.a, a);
    assert.equal(merged.b, b);
  });

  it('refuses two areas registering one name, naming both', function () {
    assert.throws(() => mergeActivities({ deals: { applyChange: () => 1 }, orders: { applyChange: () => 2 } }), /"applyChange" is registered by both deals and orders/);
  });
});
