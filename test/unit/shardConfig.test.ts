/** The size of a full unification pass's match shards, and how many one worker runs at once. */
import assert from 'node:assert/strict';
import { loadConfig } from '../../config';

describe('UNIFICATION_SHARD_RECORDS and UNIFICATION_SHARD_SLOTS', function () {
  it('default to 200,000 records per shard and one shard at a time per worker', function () {
    assert.equal(loadConfig({}).customers.shardRecords, 200_000);
    assert.equal(loadConfig({}).customers.shardSlots, 1);
  });

  it('take a deployment\'s own values', function () {
    const { customers } = loadConfig({ UNIFICATION_SHARD_RECORDS: '50000', UNIFICATION_SHARD_SLOTS: '2' });
    assert.deepEqual([customers.shardRecords, customers.shardSlots], [50_000, 2]);
  });

  it('refuse what is not a positive whole number, naming the variable', function () {
    for (const name of ['UNIFICATION_SHARD_RECORDS', 'UNIFICATION_SHARD_SLOTS']) {
      for (const bad of ['lots', '0', '-5', '2.5']) assert.throws(() => loadConfig({ [name]: bad }), new RegExp(`${name} must be a positive whole number`));
    }
  });
});
