/**
 * The matcher shares a worker's event loop with other workflows' activities, heartbeats and timers:
 * a large block must not be compared in one stretch (a million records have blocks of about 80 by
 * birth date, and 16 such blocks between two pauses held the loop 333 ms).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Matcher, recordKeys, stepNames, type MatchRecord } from '../../../domain/customers/matcher';
import { compileRules } from '../../../domain/customers/rules';

describe('the matcher lets the event loop through', function () {
  it('pauses inside one large block, not only between blocks', async function () {
    const rules = await compileRules(JSON.parse(fs.readFileSync(path.join(__dirname, '../../../config/customer-matching.json'), 'utf8')));
    const size = 320;
    // One birth date, names far apart: nearly every pair of the block is compared (a linked pair's group is not compared again).
    const records: MatchRecord[] = Array.from({ length: size }, (_, i) => ({
      id: i + 1, source: 'contacts', sourceKey: `c${i}`, links: {},
      keys: recordKeys({ firstName: `Q${i.toString(36)}x${(i * 7919).toString(36)}`, lastName: `Z${(i * 104729).toString(36)}`, dateOfBirth: '1980-01-01' }, rules),
    }));
    const matcher = new Matcher(records, rules);
    const step = stepNames(rules.config).indexOf('name_and_birth_date');
    let pauses = 0;
    const { stats } = await matcher.runStep(step, undefined, async () => {
      pauses++;
    });
    assert.equal(stats.largestBlock, size);
    assert.ok(stats.comparisons > 0.99 * ((size * (size - 1)) / 2), `${stats.comparisons} pairs compared`);
    assert.ok(pauses >= size / 16, `${pauses} pauses for one block of ${size} records (${stats.comparisons} pairs)`);
  });
});
